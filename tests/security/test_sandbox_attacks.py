"""Algorithms that attack the sandbox through the real provider (issue 5, Sandbox).

Each rule has an algorithm that tries to break it; the test fails if the protection goes.
Rules already attacked at the sandbox level in tests/unit/server/test_sandbox.py (network to
a loopback listener, the host's env and folders, /proc, read-only inputs, kernel file-size
cap, stop) are attacked here only where the provider adds something: its own port, its
data folder, other jobs, its process, and what a limit kill does to the rest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import RunningProvider
from tests.security.conftest import PROVIDER_SECRET, Lab

slow = pytest.mark.slow
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="per-job uid and cgroups need root")

REACH_PROVIDER = """\
import json, socket
options = json.load(open("/data/inputs/algoCustomData.json"))
attempts = {}
for host in ("127.0.0.1", "localhost", options["host"]):
    try:
        with socket.create_connection((host, options["port"]), timeout=3) as conn:
            conn.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
            attempts[host] = conn.recv(100).decode(errors="replace") or "connected"
    except OSError as exc:
        attempts[host] = "refused: " + type(exc).__name__
json.dump(attempts, open("/data/outputs/report.json", "w"))
"""


def _port(provider: RunningProvider) -> dict[str, Any]:
    parts = urlsplit(provider.url)
    return {"host": parts.hostname, "port": parts.port}


@pytest.mark.parametrize(
    ("env", "dataset_allows"),
    [("roomy", True), ("open", False), ("roomy", False)],
    ids=["env-forbids", "dataset-forbids", "both-forbid"],
)
def test_algorithm_cannot_reach_the_providers_own_port(
    lab: Lab, limited: RunningProvider, env: str, dataset_allows: bool
) -> None:
    did = lab.dataset(network=dataset_allows)
    job = lab.run(REACH_PROVIDER, env, custom=_port(limited), dataset=did)
    assert job["terminationDetails"]["exitCode"] == 0, lab.log(job)
    attempts = lab.report(job)
    assert all(result.startswith("refused") for result in attempts.values()), attempts


def test_network_control_the_probe_does_connect_when_both_allow(
    lab: Lab, limited: RunningProvider
) -> None:
    """Without this, the refusals above could come from a broken probe."""
    did = lab.dataset(network=True)
    job = lab.run(REACH_PROVIDER, "open", custom=_port(limited), dataset=did)
    assert any(r.startswith("HTTP/") for r in lab.report(job).values()), lab.report(job)


HOLD_SECRET = """\
import time
open("/data/outputs/secret-output.txt", "w").write("{marker}-output")
open("/data/outputs/ready", "w").write("1")
deadline = time.time() + 30
while time.time() < deadline:
    time.sleep(0.05)
"""

EXFILTRATE = """\
import json, os
options = json.load(open("/data/inputs/algoCustomData.json"))
SKIP = ("/usr", "/proc", "/sys", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc/ssl",
        "/etc/ca-certificates", "/etc/alternatives", "/dev")
found = {"paths": [], "contents": [], "env": dict(os.environ), "opened": {}}
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if not os.path.join(root, d).startswith(SKIP)]
    for name in dirs + files:
        found["paths"].append(os.path.join(root, name))
    for name in files:
        path = os.path.join(root, name)
        try:
            if os.path.getsize(path) < 65536 and path != "/data/outputs/report.json":
                found["contents"].append(open(path, errors="replace").read())
        except OSError:
            pass
for path in options["targets"]:
    try:
        if os.path.isdir(path):
            found["opened"][path] = os.listdir(path)
        else:
            found["opened"][path] = open(path, errors="replace").read()
    except OSError as exc:
        found["opened"][path] = "denied: " + type(exc).__name__
for pid in ("1", "self"):
    try:
        found["contents"].append(open(f"/proc/{pid}/environ", errors="replace").read())
    except OSError:
        pass
json.dump(found, open("/data/outputs/report.json", "w"))
"""


def _wait_file(path: Path, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


@slow
def test_algorithm_sees_no_provider_data_other_jobs_home_keys_or_env(
    lab: Lab, limited: RunningProvider, tmp_path: Path
) -> None:
    marker = "victim-" + os.urandom(8).hex()
    victim_did = lab.dataset(text=f"{marker}-input\n")
    victim = lab.start(HOLD_SECRET.format(marker=marker), "roomy", dataset=victim_did)
    data_dir = limited.data_dir.resolve()
    _wait_file(data_dir / "jobs" / victim / "data" / "outputs" / "ready")
    provider_key = (data_dir / "provider.key").read_text().strip()
    targets = [
        str(data_dir),
        str(data_dir / "provider.key"),
        str(data_dir / "provider.db"),
        str(data_dir / "files"),
        str(data_dir / "jobs"),
        str(data_dir / "jobs" / victim / "data" / "outputs" / "secret-output.txt"),
        "/run/specrunner-sandbox",
        "/root",
        "/root/.ssh",
        "/home",
        "/etc/shadow",
        "/proc/1/root/etc/shadow",
        str(Path.home()),
    ]
    attacker = Lab(limited, tmp_path)  # another wallet
    try:
        job = attacker.run(EXFILTRATE, "roomy", custom={"targets": targets})
        assert job["terminationDetails"]["exitCode"] == 0, attacker.log(job)
        seen = attacker.report(job)
    finally:
        attacker.close()
    assert all(str(v).startswith("denied") for v in seen["opened"].values()), seen["opened"]
    everything = json.dumps(seen)
    for secret in (marker, provider_key, provider_key.removeprefix("0x"), PROVIDER_SECRET):
        assert secret not in everything
    assert not any(p.startswith(("/root", "/home", "/run/specrunner")) for p in seen["paths"])
    assert lab.client.status(victim)[0]["dateFinished"] is None  # it was running all along
    assert (data_dir / "jobs" / victim / "data" / "outputs" / "secret-output.txt").exists()


SIGNALLER = """\
import errno, json, os, signal
options = json.load(open("/data/inputs/algoCustomData.json"))
me = os.getpid()
visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
hits = []
for target in [options["provider"], -1, *range(1, 5000)]:
    if target == me:
        continue
    try:
        os.kill(target, signal.SIGKILL)
        hits.append(target)
    except OSError as exc:
        if exc.errno not in (errno.ESRCH, errno.EPERM):
            raise
json.dump({"visible": visible, "me": me, "hits": hits}, open("/data/outputs/report.json", "w"))
"""


@slow
def test_algorithm_cannot_see_or_signal_the_provider_or_other_jobs(
    lab: Lab, limited: RunningProvider
) -> None:
    bystander = lab.start(
        "import time; time.sleep(2); open('/data/outputs/alive', 'w').write('yes')", "roomy"
    )
    lab.client.wait_status(bystander, 40)
    job = lab.run(SIGNALLER, "roomy", custom={"provider": limited.process.pid})
    assert job["terminationDetails"]["exitCode"] == 0, lab.log(job)
    seen = lab.report(job)
    assert limited.process.pid not in seen["visible"]
    assert len(seen["visible"]) <= 2, seen["visible"]  # bwrap's pid 1 and itself
    # Only its own namespace's pid 1 (bwrap, immune to it) could even be a target.
    assert set(seen["hits"]) <= {1, -1}, seen["hits"]
    assert limited.process.poll() is None
    assert httpx.get(limited.url + "/", timeout=5).status_code == 200
    survivor = lab.client.wait(bystander)
    assert survivor["terminationDetails"]["reason"] == "exited"
    assert lab.file(survivor, "output", "alive") == b"yes"


ESCALATE = """\
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
report = {"uid": os.getuid(), "euid": os.geteuid()}
for name, call in {
    "setuid0": lambda: os.setuid(0),
    "setgid0": lambda: os.setgid(0),
}.items():
    try:
        call()
        report[name] = "succeeded"
    except OSError as exc:
        report[name] = "refused"
for name, flags in {"userns": CLONE_NEWUSER, "mountns": CLONE_NEWNS}.items():
    report[name] = "succeeded" if libc.unshare(flags) == 0 else "refused"
status = open("/proc/self/status").read().splitlines()
report["caps"] = {l.split(":")[0]: l.split()[1] for l in status if l.startswith("Cap")}
json.dump(report, open("/data/outputs/report.json", "w"))
"""


@as_root
def test_algorithm_is_not_root_and_cannot_become_root(lab: Lab) -> None:
    job = lab.run(ESCALATE, "roomy")
    assert job["terminationDetails"]["exitCode"] == 0, lab.log(job)
    seen = lab.report(job)
    assert seen["uid"] != 0 and seen["euid"] != 0
    assert {seen[k] for k in ("setuid0", "setgid0", "userns", "mountns")} == {"refused"}, seen
    assert int(seen["caps"]["CapEff"], 16) == 0 and int(seen["caps"]["CapPrm"], 16) == 0


def _reason_and_log(lab: Lab, job: dict[str, Any]) -> tuple[str, str]:
    assert (job["status"], job["statusText"]) == (70, "Job finished")
    assert job["dateFinished"]
    return job["terminationDetails"]["reason"], lab.log(job)


def test_max_job_duration_ends_the_job_with_its_logs(lab: Lab) -> None:
    job = lab.run(
        "import time\nprint('working', flush=True)\ntime.sleep(60)\n",
        "tight",
    )
    reason, log = _reason_and_log(lab, job)
    assert reason == "timeout"
    assert job["terminationDetails"]["exitCode"] is None
    assert "maxJobDuration" in job["terminationDetails"]["message"]
    assert log.splitlines()[0] == "working"  # what it printed before it was killed
    assert log.splitlines()[-1] == "specrunner: job killed: exceeded maxJobDuration of 3s"
    assert float(job["terminationDetails"]["durationSeconds"]) < 10


BYSTANDER = (
    "import time\nstart = time.time()\nwhile time.time() - start < {seconds}: time.sleep(0.05)\n"
    "open('/data/outputs/done.txt', 'w').write('done')\nprint('bystander finished')\n"
)

LIMIT_ATTACKS = {
    "memory": (
        "chunks = []\nfor _ in range(64):\n    chunks.append(bytearray(16 * 2**20))\n"
        "print('allocated 1 GiB', flush=True)\n",
        "memory limit of 128 MiB (ramGB)",
    ),
    "processes": (
        "import subprocess, time\nchildren = []\ntry:\n"
        "    for _ in range(200):\n"
        "        children.append(subprocess.Popen(['/bin/sleep', '30']))\n"
        "finally:\n    print('spawned', len(children), flush=True)\ntime.sleep(30)\n",
        "limit of 16 processes",
    ),
    "output_size": (
        "import time\nfor n in range(8):\n"
        "    open(f'/data/outputs/part{n}', 'wb').write(b'x' * 400_000)\ntime.sleep(30)\n",
        "(diskGB)",
    ),
}


@slow
@as_root
@pytest.mark.parametrize("limit", list(LIMIT_ATTACKS))
def test_limit_ends_that_job_and_the_provider_keeps_serving(lab: Lab, limit: str) -> None:
    code, line = LIMIT_ATTACKS[limit]
    bystander = lab.start(BYSTANDER.format(seconds=1.5), "roomy")
    neighbour = lab.start(BYSTANDER.format(seconds=0.5), "tight")  # same env, same limits
    job = lab.run(code, "tight")
    reason, log = _reason_and_log(lab, job)
    assert reason == limit, job["terminationDetails"]
    # Killed by us, or ended by itself once the limit hit it (a failed fork, the OOM killer):
    # the reason and the log's last line say which limit either way.
    assert log.splitlines()[-1].startswith(("specrunner: job killed: ", "specrunner: job ended: "))
    assert line in log.splitlines()[-1], log
    if limit == "memory":
        assert job["terminationDetails"]["OOMKilled"] is True
        assert "allocated" not in log
    if limit == "processes":
        spawned = [int(x.split()[1]) for x in log.splitlines() if x.startswith("spawned")]
        assert spawned and spawned[0] < 16
    # The rest goes on: a job running beside it, one in the same environment, and a new one.
    for other in (bystander, neighbour):
        finished = lab.client.wait(other)
        assert finished["terminationDetails"]["reason"] == "exited", finished
        assert lab.file(finished, "output", "done.txt") == b"done"
    after = lab.run(BYSTANDER.format(seconds=0), "tight")
    assert after["terminationDetails"]["exitCode"] == 0
