"""Unmodified ocean.js 8.0.0 against our provider in the ocean-node dialect (issue 7).

A dataset is published with `specrunner publish`; tests/compat/oceanjs8_flow.mjs then runs ocean.js
8's free compute flow in its own process (environments, freeComputeStart with a raw algorithm,
computeStatus, getComputeResultUrl + fetch, computeStreamableLogs, computeStop) and reports what it
saw as JSON. ocean.js 8 comes from `scripts/setup-compat` (.cache/compat/js8); without it these
tests fail and say so, they never skip.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from specrunner.ocean.signing import address_of, keccak256
from tests.compat.test_ocean_clients import publish
from tests.conftest import RunningProvider

pytestmark = pytest.mark.compat

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OCEAN_JS8 = REPO / ".cache" / "compat" / "js8"
SETUP_HINT = "run scripts/setup-compat (it installs ocean.js 8.0.0 into .cache/compat/js8)"

DATASET_TEXT = "station,temp\nnorth,12.5\nsouth,17.0\neast,9.25\n"
DRIVER_TIMEOUT = 180


def consumer_key() -> str:
    """A fresh key whose first signed request, `freeStartCompute` at nonce 1, has a digest that
    starts with a zero byte: ocean.js 8 signs that digest without it (reference §10.3), so the
    start succeeds only if the provider accepts such signatures (1 message in 256 otherwise)."""
    while True:
        key = "0x" + os.urandom(32).hex()
        digest = keccak256(f"{address_of(key)}1freeStartCompute".encode())
        if digest[0] == 0:
            return key


class Flow:
    def __init__(self, report: dict[str, Any], stderr: str, dataset: str, consumer: str) -> None:
        self.report = report
        self.stderr = stderr
        self.dataset = dataset
        self.consumer = consumer

    def check_no_errors(self, *prefixes: str) -> None:
        """No step whose name starts with one of the prefixes failed (all steps if none given)."""
        errors = {
            name: error
            for name, error in self.report.get("errors", {}).items()
            if not prefixes or name.startswith(prefixes)
        }
        if errors:
            shown = "\n".join(
                f"- {name}: {error.get('type')}: {error.get('message')}\n{error.get('stack') or ''}"
                for name, error in errors.items()
            )
            tail = "\n".join(self.stderr.splitlines()[-40:])
            pytest.fail(f"ocean.js 8 failed:\n{shown}\nclient stderr (tail):\n{tail}")

    def result(self, kind: str) -> dict[str, Any]:
        found = [r for r in self.report["job"]["results"] if r["type"] == kind]
        assert len(found) == 1, self.report["job"]["results"]
        return found[0]


@pytest.fixture(scope="module")
def flow(node_provider: RunningProvider, tmp_path_factory: pytest.TempPathFactory) -> Flow:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is missing (ocean.js 8 needs node 20): {SETUP_HINT}")
    if not (OCEAN_JS8 / "node_modules" / "@oceanprotocol" / "lib" / "package.json").exists():
        pytest.fail(f"ocean.js 8.0.0 ({OCEAN_JS8}) is missing: {SETUP_HINT}")
    data = tmp_path_factory.mktemp("oceanjs8") / "stations.csv"
    data.write_text(DATASET_TEXT)
    dataset = publish(node_provider.url, data, "--allow-raw-algorithm")["id"]
    key = consumer_key()
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTHON")}
    env["COMPAT_PRIVATE_KEY"] = key
    env["OCEAN_JS8_DIR"] = str(OCEAN_JS8)
    command = [
        node,
        str(HERE / "oceanjs8_flow.mjs"),
        "--provider",
        node_provider.url,
        "--dataset",
        dataset,
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=DRIVER_TIMEOUT,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"oceanjs8_flow.mjs printed no JSON report (exit {done.returncode}):\n"
            f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-6000:]}"
        )
    return Flow(report, done.stderr, dataset, address_of(key))


def test_it_is_ocean_js_8_with_ethers_6(flow: Flow) -> None:
    assert flow.report["version"] == "8.0.0"
    assert flow.report["ethers"].startswith("6.")
    assert flow.report["consumer"] == flow.consumer


def test_environments_offer_a_free_one(flow: Flow) -> None:
    flow.check_no_errors("isValidProvider", "resolve", "environments", "nonce")
    assert flow.report["valid_provider"] is True
    free = flow.report["free_environment"]
    assert free["id"] and free["consumerAddress"].startswith("0x")
    assert free["free"]["maxJobDuration"] > 0
    assert "priceMin" not in free
    assert flow.report["nonce_before"] == 0


def test_free_start_status_and_finish(flow: Flow) -> None:
    flow.check_no_errors("job.start", "job.status")
    job = flow.report["job"]
    assert job["start_response"]["jobId"] == job["job_id"]
    final = job["final_status"]
    assert final["status"] in (70, 71), final
    assert float(final["dateFinished"]) > 0
    assert final["owner"] == flow.consumer
    assert final["inputDID"] == [flow.dataset]
    assert [r["type"] for r in final["results"]][-1] == "output"


def test_outputs_tar_holds_exactly_what_the_algorithm_wrote(flow: Flow) -> None:
    flow.check_no_errors("job")
    output = flow.result("output")
    assert output["filename"] == "outputs.tar"
    data = base64.b64decode(output["base64"])
    assert len(data) == output["size"]
    assert hashlib.sha256(data).hexdigest() == output["sha256"]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["summary.json"]
        member = tar.extractfile("summary.json")
        assert member is not None
        written = member.read().decode()
    folder = flow.dataset.removeprefix("did:op:")
    expected = {"dids": [folder], "input": DATASET_TEXT, "lines": len(DATASET_TEXT.splitlines())}
    assert written == json.dumps(expected, sort_keys=True) + "\n"


def test_algorithm_log_has_what_it_printed(flow: Flow) -> None:
    flow.check_no_errors("job")
    log = flow.result("algorithmLog")
    assert log["filename"] == "algorithm.log"
    lines = len(DATASET_TEXT.splitlines())
    folder = flow.dataset.removeprefix("did:op:")
    assert f"oceanjs8-algo: read {lines} lines from {folder}\n" in log["text"]


def test_live_logs_while_running(flow: Flow) -> None:
    flow.check_no_errors("live_logs")
    assert flow.report["live_logs"]["text"].startswith("oceanjs8-sleeper: started\n")


def test_stop_ends_the_running_job(flow: Flow) -> None:
    flow.check_no_errors("stop")
    stop = flow.report["stop"]
    assert stop["status_before_stop"]["status"] == 40, stop["status_before_stop"]
    stopped = stop["stopped"]
    assert stopped["stopRequested"] is True
    final = stop["final_status"]
    assert final["jobId"] == stop["job_id"]
    assert final["stopRequested"] is True
    assert float(final["dateFinished"]) > 0
    # The sleeper sleeps 30 s; a stop must end it long before that.
    assert stop["seconds_from_stop_to_finished"] < 15, stop


def test_no_live_logs_once_the_job_ended(flow: Flow) -> None:
    """ocean-node answers 404 with a plain-text body; ocean.js 8 parses it as JSON and throws."""
    flow.check_no_errors("stop")
    after = flow.report["live_logs_after_end"]
    assert after.get("text") is None, after
    assert after.get("threw") == "FetchError", after
    assert "invalid json response body" in after["message"], after
    assert '"Job not fo"' in after["message"], after  # JSON.parse quotes the body's start


def test_every_signed_request_used_one_nonce(flow: Flow) -> None:
    """2 starts, one result download per listed result, 2 live-log requests, 1 stop."""
    flow.check_no_errors()
    downloads = len(flow.report["job"]["results"])
    assert flow.report["nonce_after"] == flow.report["nonce_before"] + 2 + downloads + 3


def test_whole_flow_clean(flow: Flow) -> None:
    flow.check_no_errors()
