"""The GitOps loop through the CLI: plan, apply, status, stop, against real providers."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from specrunner.ocean.signing import Signer
from tests.conftest import RunningProvider

ROOT = Path(__file__).resolve().parents[2]

ALGORITHM = """\
import json, os, time
options = json.load(open("/data/inputs/algoCustomData.json"))
time.sleep(options.get("sleep", 0))
text = "".join(open(f"/data/inputs/{d}/0").read() for d in json.loads(os.environ["DIDS"]))
with open("/data/outputs/summary.json", "w") as out:
    json.dump({"chars": len(text), "tag": options.get("tag")}, out)
print("summarised", len(text), "characters")
"""


def cli(
    workdir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "specrunner", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def spec(name: str, provider: str | None = None, **custom: Any) -> str:
    provider_block = (
        (f'provider: {{url: {provider}}}\nwallet: {{privateKey: "${{env:TEST_WALLET_KEY}}"}}\n')
        if provider
        else ""
    )
    return (
        f"apiVersion: specrunner/v1\nkind: ComputeJob\nmetadata: {{name: {name}}}\n"
        f"{provider_block}datasets:\n  - path: data/{name}.txt\n"
        "algorithm:\n  file: summarise.py\n  container: {entrypoint: python3 $ALGO, "
        "image: python, tag: '3.11'}\n"
        f"  customData: {json.dumps({'tag': name, **custom})}\n"
    )


def workspace(tmp_path: Path, names: list[str], provider: str | None = None, **custom: Any) -> Path:
    folder = tmp_path / "repo"
    (folder / "specs" / "data").mkdir(parents=True)
    (folder / "specs" / "summarise.py").write_text(ALGORITHM)
    for name in names:
        (folder / "specs" / "data" / f"{name}.txt").write_text(f"data of {name}\n")
        (folder / "specs" / f"{name}.yaml").write_text(spec(name, provider, **custom))
    return folder


def lock_of(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "specrunner.lock.json").read_text()))


def phase_of(folder: Path, name: str) -> str | None:
    """A job's phase in the lock, None before the lock or the job is there."""
    if not (folder / "specrunner.lock.json").exists():
        return None
    phase = lock_of(folder)["jobs"].get(name, {}).get("phase")
    return None if phase is None else str(phase)


@contextlib.contextmanager
def background(
    folder: Path, *args: str, env: dict[str, str] | None = None, quiet: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """`specrunner ARGS` running while the block runs; killed on the way out if still alive."""
    output = subprocess.DEVNULL if quiet else subprocess.PIPE
    process = subprocess.Popen(
        [sys.executable, "-m", "specrunner", *args],
        cwd=folder,
        env={**os.environ, **(env or {})},
        stdout=output,
        stderr=output,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        process.wait()


def test_example_specs_apply_then_rerun_changes_nothing(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    first = cli(tmp_path, "apply", "specs/")
    assert first.returncode == 0, first.stderr
    lock = lock_of(tmp_path)
    assert set(lock["jobs"]) == {"word-count", "sales-by-region"}
    for name, job in lock["jobs"].items():
        assert job["phase"] == "finished" and job["status"] == 70 and job["exitCode"] == 0
        outputs = [r for r in job["results"] if r["type"] == "output"]
        assert outputs, name
        for result in job["results"]:
            data = (tmp_path / result["path"]).read_bytes()
            import hashlib

            assert hashlib.sha256(data).hexdigest() == result["sha256"]
    words = json.loads((tmp_path / "results/word-count/outputs/word_counts.json").read_text())
    assert words
    again = cli(tmp_path, "apply", "specs/")
    assert again.returncode == 0, again.stderr
    assert "2 up to date" in again.stdout
    assert lock_of(tmp_path) == lock  # not even the serial moved
    plan = cli(tmp_path, "plan", "--detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        ("customData", ["customData"]),
        ("dataset", ["dataset data/one.txt"]),
        ("algorithm", ["algorithm"]),
    ],
)
def test_a_changed_input_replaces_the_job_with_that_reason(
    tmp_path: Path, edit: str, changed: list[str]
) -> None:
    folder = workspace(tmp_path, ["one"])
    assert cli(folder, "apply").returncode == 0
    old_job = lock_of(folder)["jobs"]["one"]["jobId"]
    if edit == "customData":
        (folder / "specs/one.yaml").write_text(spec("one", extra=1))
    elif edit == "dataset":
        (folder / "specs/data/one.txt").write_text("new data\n")
    else:
        (folder / "specs/summarise.py").write_text(ALGORITHM + "\n# changed\n")
    plan = cli(folder, "plan", "--output", "json", "--detailed-exitcode")
    assert plan.returncode == 2, plan.stderr
    (step,) = json.loads(plan.stdout)["steps"]
    assert (step["action"], step["changed"]) == ("replace", changed)
    assert cli(folder, "apply").returncode == 0
    job = lock_of(folder)["jobs"]["one"]
    assert job["jobId"] != old_job and job["phase"] == "finished"
    assert cli(folder, "plan", "--detailed-exitcode").returncode == 0


@pytest.fixture(params=["provider-v2", "ocean-node"])
def served(
    request: pytest.FixtureRequest, provider: RunningProvider, node_provider: RunningProvider
) -> RunningProvider:
    """The runner's acceptance tests run against our provider in each dialect."""
    return provider if request.param == "provider-v2" else node_provider


def _served(
    provider: RunningProvider, tmp_path: Path, names: list[str], **custom: Any
) -> tuple[Path, dict[str, str], Signer]:
    key = "0x" + os.urandom(32).hex()
    folder = workspace(tmp_path, names, provider=provider.url, **custom)
    return folder, {"TEST_WALLET_KEY": key}, Signer.from_key(key)


def _owner_jobs(provider: RunningProvider, owner: str) -> list[dict[str, Any]]:
    response = httpx.get(
        provider.url + "/api/services/compute", params={"consumerAddress": owner}, timeout=10
    )
    return list(response.json())


def _until(check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_no_wait_then_status_collects_the_results(served: RunningProvider, tmp_path: Path) -> None:
    folder, env, _ = _served(served, tmp_path, ["later"], sleep=1)
    started = cli(folder, "apply", "--no-wait", env=env)
    assert started.returncode == 0, started.stderr
    assert lock_of(folder)["jobs"]["later"]["phase"] == "started"
    _until(lambda: cli(folder, "status", env=env).returncode == 0)
    job = lock_of(folder)["jobs"]["later"]
    assert job["phase"] == "finished"
    summary = json.loads((folder / "results/later/outputs/summary.json").read_text())
    assert summary == {"chars": len("data of later\n"), "tag": "later"}
    log = cli(folder, "logs", "later", env=env)
    assert "summarised" in log.stdout


def test_stop_ends_a_running_job(served: RunningProvider, tmp_path: Path) -> None:
    folder, env, _ = _served(served, tmp_path, ["long"], sleep=60)
    assert cli(folder, "apply", "--no-wait", env=env).returncode == 0
    stopped = cli(folder, "stop", "long", env=env)
    assert stopped.returncode == 0 and "stop requested" in stopped.stdout

    def stopped_status() -> subprocess.CompletedProcess[str] | None:
        result = cli(folder, "status", env=env)
        return result if "failed" in result.stdout else None

    status = _until(stopped_status)
    assert status.returncode == 2 and "stopped" in status.stdout
    assert lock_of(folder)["jobs"]["long"]["phase"] == "failed"


def test_sigkill_at_random_points_runs_every_spec_exactly_once(
    served: RunningProvider, tmp_path: Path
) -> None:
    names = ["k1", "k2", "k3"]
    folder, env, owner = _served(served, tmp_path, names, sleep=0.5)
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    for _ in range(4):
        with background(folder, "apply", env=env, quiet=True) as process:
            time.sleep(rng.uniform(0.3, 2.5))
            process.send_signal(signal.SIGKILL)
    final = cli(folder, "apply", env=env)
    assert final.returncode == 0, final.stdout + final.stderr
    jobs = _owner_jobs(served, owner.address)
    assert len(jobs) == len(names), jobs
    lock = lock_of(folder)
    assert sorted(job["jobId"] for job in jobs) == sorted(
        lock["jobs"][name]["jobId"] for name in names
    )
    assert all(lock["jobs"][name]["phase"] == "finished" for name in names)


def test_second_apply_waits_then_names_the_holder(served: RunningProvider, tmp_path: Path) -> None:
    folder, env, owner = _served(served, tmp_path, ["busy"], sleep=3)
    with background(folder, "apply", env=env) as first:
        _until((folder / "specrunner.lock.json").exists)
        second = cli(folder, "apply", "--lock-timeout", "0.5", env=env)
        assert second.returncode == 1
        assert f"in use by specrunner apply (pid {first.pid}" in second.stderr
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, out + err
    waited = cli(folder, "apply", "--lock-timeout", "60", env=env)
    assert waited.returncode == 0 and "1 up to date" in waited.stdout
    assert len(_owner_jobs(served, owner.address)) == 1


def test_corrupt_lockfile_is_reported_and_kept(tmp_path: Path) -> None:
    folder = workspace(tmp_path, ["one"])
    (folder / "specrunner.lock.json").write_text('{"version": 1, "jobs": ')
    for command in ("plan", "apply", "status"):
        result = cli(folder, command)
        assert result.returncode == 1
        assert "specrunner.lock.json:1:" in result.stderr and "not valid JSON" in result.stderr
    assert (folder / "specrunner.lock.json").read_text() == '{"version": 1, "jobs": '


def test_provider_down_is_a_clear_error_and_the_lock_stays(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = workspace(tmp_path, ["one"], provider=f"http://127.0.0.1:{port}")
    before = '{\n  "jobs": {},\n  "lineage": "abc",\n  "serial": 3,\n  "version": 1\n}\n'
    (folder / "specrunner.lock.json").write_text(before)
    started = time.monotonic()
    result = cli(folder, "apply", env={"TEST_WALLET_KEY": "0x" + "11" * 32})
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr and "error:" in result.stderr
    assert time.monotonic() - started < 30
    assert (folder / "specrunner.lock.json").read_text() == before


def test_bad_manifest_stops_apply_with_every_problem(tmp_path: Path) -> None:
    folder = workspace(tmp_path, ["one"])
    (folder / "specs/bad.yaml").write_text("apiVersion: specrunner/v1\nkind: ComputeJob\n")
    result = cli(folder, "apply")
    assert result.returncode == 1
    assert "bad.yaml:1:1:" in result.stderr
    assert not (folder / "specrunner.lock.json").exists()


def test_a_failing_algorithm_fails_apply_naming_it_and_keeps_its_logs(tmp_path: Path) -> None:
    folder = workspace(tmp_path, ["ok", "broken"])
    (folder / "specs/broken.py").write_text("print('about to fail')\nraise SystemExit(3)\n")
    (folder / "specs/broken.yaml").write_text(spec("broken").replace("summarise.py", "broken.py"))
    result = cli(folder, "apply")
    assert result.returncode == 1
    assert "1 job failed: broken (the algorithm exited with code 3)" in result.stderr
    lock = lock_of(folder)
    assert lock["jobs"]["ok"]["phase"] == "finished"
    broken = lock["jobs"]["broken"]
    assert (broken["phase"], broken["exitCode"]) == ("failed", 3)
    log = next(r for r in broken["results"] if r["type"] == "algorithmLog")
    assert (folder / log["path"]).read_text() == "about to fail\n"
    replan = cli(folder, "plan", "--output", "json")
    steps = {s["name"]: s for s in json.loads(replan.stdout)["steps"]}
    assert steps["broken"]["action"] == "replace"
    assert steps["broken"]["reason"].startswith("previous run failed")
    assert steps["ok"]["action"] == "keep"


def test_policy_timeout_stops_the_job(tmp_path: Path) -> None:
    folder = workspace(tmp_path, ["slow"], sleep=60)
    text = (folder / "specs/slow.yaml").read_text() + "policy: {timeout: 2s}\n"
    (folder / "specs/slow.yaml").write_text(text)
    started = time.monotonic()
    result = cli(folder, "apply")
    assert result.returncode == 1 and "timed out after 2s" in result.stderr
    assert time.monotonic() - started < 30
    assert lock_of(folder)["jobs"]["slow"]["phase"] == "failed"


def test_target_replace_and_prune(tmp_path: Path) -> None:
    folder = workspace(tmp_path, ["a", "b"])
    targeted = cli(folder, "apply", "--target", "a")
    assert targeted.returncode == 0 and set(lock_of(folder)["jobs"]) == {"a"}
    assert cli(folder, "apply").returncode == 0
    first_b = lock_of(folder)["jobs"]["b"]["jobId"]
    replaced = cli(folder, "apply", "--replace", "b")
    assert replaced.returncode == 0 and "requested with --replace" in replaced.stdout
    jobs = lock_of(folder)["jobs"]
    assert jobs["b"]["jobId"] != first_b
    (folder / "specs/a.yaml").unlink()
    orphaned = cli(folder, "apply")
    assert "apply --prune drops it" in orphaned.stdout and "a" in lock_of(folder)["jobs"]
    status = cli(folder, "status")
    assert status.returncode == 2 and "no longer in the specs" in status.stdout
    pruned = cli(folder, "apply", "--prune")
    assert pruned.returncode == 0 and set(lock_of(folder)["jobs"]) == {"b"}


def test_results_are_verified_again_and_status_sees_local_changes(tmp_path: Path) -> None:
    folder = workspace(tmp_path, ["one"])
    assert cli(folder, "apply").returncode == 0
    summary = folder / "results/one/outputs/summary.json"
    summary.write_text("tampered")
    status = cli(folder, "status")
    assert status.returncode == 2 and "result changed since download" in status.stdout
    again = cli(folder, "results", "one")
    assert again.returncode == 0 and again.stdout.startswith("ok")
    assert json.loads(summary.read_text())["tag"] == "one"
    assert cli(folder, "status").returncode == 0


def test_logs_follow_streams_live_on_ocean_node(
    node_provider: RunningProvider, tmp_path: Path
) -> None:
    folder, env, _ = _served(node_provider, tmp_path, ["chatty"], sleep=2)
    (folder / "specs/summarise.py").write_text(
        "import time\nprint('first line', flush=True)\ntime.sleep(2)\nprint('last line')\n"
    )
    assert cli(folder, "apply", "--no-wait", env=env).returncode == 0
    job = lock_of(folder)["jobs"]["chatty"]
    assert job["dialect"] == "ocean-node"
    with background(folder, "logs", "chatty", "--follow", env=env) as follower:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "first line\n"
        # Live: the first line arrived while the job was still running.
        (running,) = _owner_jobs(node_provider, job["owner"])
        assert running["status"] == 40 and running["dateFinished"] is None
        rest, err = follower.communicate(timeout=60)
        assert follower.returncode == 0, err
        assert rest == "last line\n"


def test_plan_during_an_embedded_apply_uses_its_provider(tmp_path: Path) -> None:
    """A second process never reopens the embedded provider's folder behind the first."""
    folder = workspace(tmp_path, ["slowish"], sleep=4)
    with background(folder, "apply") as running:
        _until(lambda: phase_of(folder, "slowish") == "started")
        plan = cli(folder, "plan")
        assert plan.returncode == 0 and "resume" in plan.stdout, plan.stdout + plan.stderr
        served = cli(
            folder, "provider", "serve", "--port", "0", "--data-dir", ".specrunner/provider"
        )
        assert served.returncode == 1 and "in use by another provider" in served.stderr
        out, err = running.communicate(timeout=60)
        assert running.returncode == 0, out + err
    assert lock_of(folder)["jobs"]["slowish"]["phase"] == "finished"


def test_odd_output_names_are_kept_beside_the_logs(tmp_path: Path) -> None:
    folder = workspace(tmp_path, ["odd"])
    (folder / "specs/summarise.py").write_text(
        "for name in ('logs', '..\\\\evil', 'good.txt'):\n"
        "    open('/data/outputs/' + name, 'w').write(name)\n"
    )
    result = cli(folder, "apply")
    assert result.returncode == 0, result.stderr
    outputs = folder / "results/odd/outputs"
    assert sorted(p.name for p in outputs.iterdir()) == ["..\\evil", "good.txt", "logs"]
    assert (folder / "results/odd/logs/algorithm.log").is_file()
    assert lock_of(folder)["jobs"]["odd"]["phase"] == "finished"


def test_outputs_dir_must_stay_inside_the_working_directory(tmp_path: Path) -> None:
    folder = workspace(tmp_path, ["escape"])
    spec_file = folder / "specs/escape.yaml"
    for bad in (".", "../elsewhere", "/tmp/x", ".git/hooks"):
        spec_file.write_text(spec("escape") + f"outputs: {{dir: '{bad}'}}\n")
        result = cli(folder, "validate")
        assert result.returncode == 1 and "must stay inside the working directory" in result.stdout


def test_ctrl_c_stops_following_at_once_and_keeps_the_job(
    provider: RunningProvider, tmp_path: Path
) -> None:
    folder, env, _ = _served(provider, tmp_path, ["patient"], sleep=60)
    with background(folder, "apply", env=env) as running:
        _until(lambda: phase_of(folder, "patient") == "started")
        interrupted = time.monotonic()
        running.send_signal(signal.SIGINT)
        running.communicate(timeout=20)
        assert time.monotonic() - interrupted < 10
        assert running.returncode == 130
    assert lock_of(folder)["jobs"]["patient"]["phase"] == "started"
    assert cli(folder, "stop", "patient", env=env).returncode == 0


def test_replace_and_failure_on_ocean_node(node_provider: RunningProvider, tmp_path: Path) -> None:
    """The embedded-provider scenarios above, on a provider speaking ocean-node."""
    folder, env, _ = _served(node_provider, tmp_path, ["ok", "broken"])
    (folder / "specs/broken.py").write_text("print('about to fail')\nraise SystemExit(3)\n")
    broken_spec = spec("broken", node_provider.url).replace("summarise.py", "broken.py")
    (folder / "specs/broken.yaml").write_text(broken_spec)
    result = cli(folder, "apply", env=env)
    assert result.returncode == 1
    assert "broken (the algorithm exited with code 3)" in result.stderr
    jobs = lock_of(folder)["jobs"]
    assert (jobs["broken"]["phase"], jobs["broken"]["exitCode"]) == ("failed", 3)
    assert jobs["ok"]["phase"] == "finished" and jobs["ok"]["dialect"] == "ocean-node"
    extracted = [r for r in jobs["ok"]["results"] if r["type"] == "extracted"]
    assert [r["filename"] for r in extracted] == ["summary.json"]
    (folder / "specs/ok.yaml").write_text(spec("ok", node_provider.url, extra=1))
    plan = cli(folder, "plan", "--output", "json", env=env)
    steps = {s["name"]: s for s in json.loads(plan.stdout)["steps"]}
    assert (steps["ok"]["action"], steps["ok"]["changed"]) == ("replace", ["customData"])
    assert steps["broken"]["reason"].startswith("previous run failed")
    (folder / "specs/broken.yaml").unlink()
    assert cli(folder, "apply", "--prune", env=env).returncode == 0
    again = lock_of(folder)["jobs"]
    assert set(again) == {"ok"} and again["ok"]["jobId"] != jobs["ok"]["jobId"]


def test_kill_9_on_the_embedded_provider_then_one_rerun_finishes(tmp_path: Path) -> None:
    """Killing apply kills its embedded provider and the job with it: the next apply starts
    that job again and finishes it (issue 4: kill -9 at any moment, rerun)."""
    folder = workspace(tmp_path, ["fragile"], sleep=3)
    with background(folder, "apply", quiet=True) as running:
        _until(lambda: phase_of(folder, "fragile") == "started")
        running.send_signal(signal.SIGKILL)
    rerun = cli(folder, "apply")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    job = lock_of(folder)["jobs"]["fragile"]
    assert job["phase"] == "finished"
    assert json.loads((folder / "results/fragile/outputs/summary.json").read_text())["tag"] == (
        "fragile"
    )


def test_an_output_named_like_the_archive_cannot_replace_it(
    node_provider: RunningProvider, tmp_path: Path
) -> None:
    folder, env, _ = _served(node_provider, tmp_path, ["tarry"])
    (folder / "specs/summarise.py").write_text(
        "open('/data/outputs/outputs.tar', 'w').write('inner')\n"
    )
    assert cli(folder, "apply", env=env).returncode == 0
    job = lock_of(folder)["jobs"]["tarry"]
    archive = next(
        r for r in job["results"] if r["filename"] == "outputs.tar" and r["type"] == "output"
    )
    assert archive["path"] == "results/tarry/outputs.tar"
    import hashlib

    assert hashlib.sha256((folder / archive["path"]).read_bytes()).hexdigest() == archive["sha256"]
    assert (folder / "results/tarry/outputs/outputs.tar").read_text() == "inner"


def test_results_puts_an_archive_where_apply_recorded_it(
    node_provider: RunningProvider, tmp_path: Path
) -> None:
    """`results` follows apply's placement rule and the lock's recorded path: an ocean-node
    job whose archive holds no files once had its outputs.tar written to outputs/ instead."""
    folder, env, _ = _served(node_provider, tmp_path, ["empty"])
    (folder / "specs/summarise.py").write_text("print('nothing to write')\n")
    assert cli(folder, "apply", env=env).returncode == 0
    job = lock_of(folder)["jobs"]["empty"]
    archive = next(r for r in job["results"] if r["filename"] == "outputs.tar")
    assert archive["path"] == "results/empty/outputs.tar"
    assert not [r for r in job["results"] if r["type"] == "extracted"]
    again = cli(folder, "results", "empty", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "ok  results/empty/outputs.tar" in again.stdout
    assert not (folder / "results/empty/outputs/outputs.tar").exists()


def test_results_refuses_a_recorded_path_outside_the_job_folder(
    node_provider: RunningProvider, tmp_path: Path
) -> None:
    folder, env, _ = _served(node_provider, tmp_path, ["moved"])
    assert cli(folder, "apply", env=env).returncode == 0
    lock = lock_of(folder)
    lock["jobs"]["moved"]["results"][0]["path"] = "../outside.txt"
    (folder / "specrunner.lock.json").write_text(json.dumps(lock, indent=2))
    again = cli(folder, "results", "moved", env=env)
    assert again.returncode == 1 and "refusing recorded result path" in again.stderr
    assert not (tmp_path / "outside.txt").exists()
