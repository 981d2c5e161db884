"""Crash safety made deterministic: apply dies right before or right after its start
request (a wrapper ends the process there), then a normal apply must adopt exactly the
job that request started, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from specrunner.ocean.signing import Signer
from tests.acceptance.test_apply import ALGORITHM, cli, lock_of
from tests.acceptance.wire import publish_file
from tests.conftest import RunningProvider

CRASH = """\
import os, sys
import specrunner.execute.jobrun as jobrun
original = jobrun.JobRun._send_start
MODE = sys.argv[1]
def crashing(self, job, entry):
    if MODE == "after":
        original(self, job, entry)
    os._exit(9)
jobrun.JobRun._send_start = crashing
from specrunner.cli import main
sys.argv = ["specrunner", "apply"]
main()
"""


def crash_apply(folder: Path, when: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CRASH, when],
        cwd=folder,
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 9, result.stderr


def spec_text(provider: str, dataset: str, order: str, version: int) -> str:
    return (
        "apiVersion: specrunner/v1\nkind: ComputeJob\nmetadata: {name: pinned}\n"
        f'provider: {{url: {provider}}}\nwallet: {{privateKey: "${{env:TEST_WALLET_KEY}}"}}\n'
        f"datasets:\n  - {{did: {dataset}, serviceId: compute, transferTxId: '{order}'}}\n"
        "algorithm:\n  file: summarise.py\n"
        "  container: {entrypoint: python3 $ALGO, image: python, tag: '3.11'}\n"
        f"  customData: {{tag: v{version}}}\n"
    )


def setup(provider: RunningProvider, tmp_path: Path) -> tuple[Path, dict[str, str], Signer, str]:
    """A workspace whose spec pins a published dataset and an order of it."""
    key = "0x" + os.urandom(32).hex()
    owner = Signer.from_key(key)
    data = tmp_path / "data.txt"
    data.write_text("pinned data\n")
    dataset = publish_file(provider.url, owner, data)["id"]
    envs = httpx.get(provider.url + "/api/services/computeEnvironments").json()
    env = next(iter(envs.values()))[0]["id"]
    order = httpx.post(
        provider.url + "/api/services/initializeCompute",
        json={
            "datasets": [{"documentId": dataset, "serviceId": "compute"}],
            "compute": {"env": env, "validUntil": int(time.time()) + 3600},
            "consumerAddress": owner.address,
        },
    ).json()["datasets"][0]["validOrder"]
    folder = tmp_path / "repo"
    (folder / "specs").mkdir(parents=True)
    (folder / "specs" / "summarise.py").write_text(ALGORITHM)
    (folder / "specs" / "pinned.yaml").write_text(spec_text(provider.url, dataset, order, 1))
    return folder, {"TEST_WALLET_KEY": key}, owner, dataset


def owner_jobs(provider: RunningProvider, owner: Signer) -> list[dict[str, object]]:
    return list(
        httpx.get(
            provider.url + "/api/services/compute", params={"consumerAddress": owner.address}
        ).json()
    )


def test_a_job_started_just_before_the_crash_is_adopted(
    provider: RunningProvider, tmp_path: Path
) -> None:
    folder, env, owner, _ = setup(provider, tmp_path)
    crash_apply(folder, "after", env)
    assert lock_of(folder)["jobs"]["pinned"]["phase"] == "pending"
    (started,) = owner_jobs(provider, owner)
    result = cli(folder, "apply", env=env)
    assert result.returncode == 0, result.stderr
    assert f"adopted job {started['jobId']}" in result.stdout
    assert [job["jobId"] for job in owner_jobs(provider, owner)] == [started["jobId"]]
    assert lock_of(folder)["jobs"]["pinned"]["jobId"] == started["jobId"]


def test_a_reused_order_never_adopts_the_job_it_replaces(
    provider: RunningProvider, tmp_path: Path
) -> None:
    folder, env, owner, _ = setup(provider, tmp_path)
    assert cli(folder, "apply", env=env).returncode == 0
    first = lock_of(folder)["jobs"]["pinned"]["jobId"]
    spec = (folder / "specs" / "pinned.yaml").read_text().replace("tag: v1", "tag: v2")
    (folder / "specs" / "pinned.yaml").write_text(spec)
    crash_apply(folder, "before", env)  # the pending entry holds the same, reused order
    result = cli(folder, "apply", env=env)
    assert result.returncode == 0, result.stderr
    assert "adopted" not in result.stdout
    job = lock_of(folder)["jobs"]["pinned"]
    assert job["jobId"] != first and len(owner_jobs(provider, owner)) == 2
    summary = json.loads((folder / "results/pinned/outputs/summary.json").read_text())
    assert summary["tag"] == "v2"
