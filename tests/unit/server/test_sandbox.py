"""The job sandbox, attacked by small real algorithms: each test fails if its protection goes."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from specrunner.errors import SandboxError
from specrunner.server.sandbox import argv as sandbox_argv
from specrunner.server.sandbox import run as sandbox
from specrunner.server.sandbox.request import SandboxLimits, SandboxOutcome, SandboxRequest

DID = "0123abcd"
MiB = 2**20
LIMITS = SandboxLimits(wall_seconds=30, memory_bytes=256 * MiB, max_processes=32, output_bytes=MiB)
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="per-job uid and cgroups need root")

Runner = Callable[..., SandboxOutcome]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A job folder as the engine lays it out (reference Appendix A)."""
    data = tmp_path / "job" / "data"
    (data / "inputs" / DID).mkdir(parents=True)
    (data / "inputs" / DID / "0").write_text("first file")
    (data / "inputs" / DID / "1").write_text("second file")
    (data / "inputs" / "algoCustomData.json").write_text('{"alpha": 1}')
    (data / "ddos").mkdir()
    (data / "ddos" / DID).write_text('{"id": "did:op:0123abcd"}')
    (data / "transformations").mkdir()
    (data / "outputs").mkdir()
    (data / "logs").mkdir()
    (tmp_path / "job").chmod(0o700)  # as the provider keeps its data folder
    return data


@pytest.fixture
def run(data_dir: Path) -> Runner:
    """Run Python `code` as the job's algorithm; keyword arguments refine the request."""

    def runner(
        code: str,
        limits: SandboxLimits = LIMITS,
        allow_network: bool = False,
        stop: threading.Event | None = None,
        sandboxed: bool = True,
    ) -> SandboxOutcome:
        algorithm = data_dir / "transformations" / "algorithm"
        algorithm.write_text(code)
        env = {
            "DIDS": json.dumps([DID]),
            "TRANSFORMATION_DID": "algo",
            "VOLUME": "/data",
            "LOGS": "/data/logs",
            "INPUTS": "/data/inputs",
            "OUTPUTS": "/data/outputs",
        }
        argv = ["/usr/bin/python3", "/data/transformations/algorithm"]
        request = SandboxRequest(data_dir, argv, env, allow_network, limits, sandboxed)
        return sandbox.run_sandboxed(request, stop or threading.Event())

    return runner


def report(data_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((data_dir / "outputs" / "report.json").read_text())
    return result


def log_text(data_dir: Path) -> str:
    return (data_dir / "logs" / "algorithm.log").read_text()


def test_available_here_and_cached() -> None:
    assert sandbox.check_available() is None
    hits = sandbox.check_available.cache_info().hits
    assert sandbox.check_available() is None
    assert sandbox.check_available.cache_info().hits == hits + 1  # the probe ran only once


def test_missing_bwrap_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sandbox_argv, "HOST_PATH", str(tmp_path))
    message = sandbox.check_available.__wrapped__()
    assert message is not None
    assert "apt-get install bubblewrap" in message


def test_outputs_and_logs(run: Runner, data_dir: Path) -> None:
    outcome = run(
        "import sys\n"
        "print('to stdout', flush=True)\n"
        "print('to stderr', file=sys.stderr, flush=True)\n"
        "open('/data/outputs/result.txt', 'w').write('42')\n"
        "open('/data/logs/extra.log', 'w').write('more')\n"
    )
    assert (outcome.reason, outcome.exit_code) == ("exited", 0)
    assert "to stdout" in log_text(data_dir)
    assert "to stderr" in log_text(data_dir)
    assert (data_dir / "outputs" / "result.txt").read_text() == "42"
    assert (data_dir / "logs" / "extra.log").read_text() == "more"


def test_exit_code_is_passed_on(run: Runner) -> None:
    outcome = run("import sys; sys.exit(3)")
    assert (outcome.reason, outcome.exit_code) == ("exited", 3)
    assert "3" in outcome.message


def test_inputs_and_env_at_the_documented_places(run: Runner, data_dir: Path) -> None:
    outcome = run(
        "import json, os\n"
        "inputs = f'/data/inputs/{json.loads(os.environ[\"DIDS\"])[0]}'\n"
        "json.dump({\n"
        "  'files': [open(f'{inputs}/{n}').read() for n in sorted(os.listdir(inputs))],\n"
        "  'custom': json.load(open('/data/inputs/algoCustomData.json')),\n"
        "  'ddo': json.load(open('/data/ddos/0123abcd')),\n"
        "  'env': {k: os.environ.get(k) for k in ('TRANSFORMATION_DID', 'VOLUME', 'OUTPUTS')},\n"
        "}, open('/data/outputs/report.json', 'w'))\n"
    )
    assert outcome.exit_code == 0, log_text(data_dir)
    assert report(data_dir) == {
        "files": ["first file", "second file"],
        "custom": {"alpha": 1},
        "ddo": {"id": "did:op:0123abcd"},
        "env": {"TRANSFORMATION_DID": "algo", "VOLUME": "/data", "OUTPUTS": "/data/outputs"},
    }


NETWORK_PROBE = (
    "import json, socket, sys\n"
    "try:\n"
    "    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
    "    result = 'connected'\n"
    "except OSError as exc:\n"
    "    result = type(exc).__name__\n"
    "json.dump({{'result': result}}, open('/data/outputs/report.json', 'w'))\n"
)


@pytest.mark.parametrize("allow_network", [False, True])
def test_network_only_when_allowed(run: Runner, data_dir: Path, allow_network: bool) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        outcome = run(
            NETWORK_PROBE.format(port=listener.getsockname()[1]), allow_network=allow_network
        )
        assert outcome.exit_code == 0, log_text(data_dir)
        try:
            listener.accept()[0].close()
            reached = True
        except BlockingIOError:
            reached = False
    assert reached is allow_network
    assert (report(data_dir)["result"] == "connected") is allow_network


def test_host_is_hidden(
    run: Runner, data_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SPECRUNNER_TEST_SECRET", "hunter2")
    marker = f"specrunner-sandbox-test-{os.getpid()}"
    probes = ["/root", "/home", "/etc/shadow", str(tmp_path), "/run", "/var"]
    if not sys.executable.startswith("/usr/"):
        probes.append(sys.executable)  # e.g. a pyenv interpreter under /root
    outcome = run(
        "import json, os\n"
        f"open('/tmp/{marker}', 'w').write('private')\n"
        "json.dump({\n"
        "  'env': dict(os.environ),\n"
        f"  'visible': [p for p in {probes!r} if os.path.exists(p)],\n"
        "  'passwd': open('/etc/passwd').read(),\n"
        "}, open('/data/outputs/report.json', 'w'))\n"
    )
    assert outcome.exit_code == 0, log_text(data_dir)
    seen = report(data_dir)
    assert "hunter2" not in json.dumps(seen["env"])
    assert set(seen["env"]) <= {
        *("PATH", "HOME", "LANG", "PWD", "DIDS", "TRANSFORMATION_DID"),
        *("VOLUME", "LOGS", "INPUTS", "OUTPUTS"),
    }
    assert seen["visible"] == []
    assert "daemon:" not in str(seen["passwd"])  # the host's accounts are not listed
    assert not Path(f"/tmp/{marker}").exists()  # its /tmp is its own


def test_other_processes_are_invisible(run: Runner, data_dir: Path) -> None:
    outcome = run(
        "import json, os\n"
        "pids = [int(p) for p in os.listdir('/proc') if p.isdigit()]\n"
        "try:\n"
        f"    os.kill({os.getpid()}, 0)\n"
        "    signalled = True\n"
        "except ProcessLookupError:\n"
        "    signalled = False\n"
        "report = {'pids': pids, 'signalled': signalled}\n"
        "json.dump(report, open('/data/outputs/report.json', 'w'))\n"
    )
    assert outcome.exit_code == 0, log_text(data_dir)
    seen = report(data_dir)
    assert len(seen["pids"]) <= 2  # bwrap's pid 1 and the algorithm
    assert seen["signalled"] is False


@as_root
def test_not_root_inside_nor_on_the_host(run: Runner, data_dir: Path) -> None:
    outcome = run(
        "import json, os\n"
        "ids = {'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid()}\n"
        "json.dump(ids, open('/data/outputs/report.json', 'w'))\n"
    )
    assert outcome.exit_code == 0, log_text(data_dir)
    assert 0 not in report(data_dir).values()
    owner = (data_dir / "outputs" / "report.json").stat().st_uid
    assert owner >= sandbox.UID_BASE  # the job's own host uid, not root's


def test_inputs_and_code_are_read_only(run: Runner, data_dir: Path) -> None:
    targets = [
        f"/data/inputs/{DID}/0",
        f"/data/inputs/{DID}/new",
        "/data/ddos/new",
        "/data/transformations/algorithm",
        "/usr/new",
        "/new",
    ]
    # World-writable on the host, so only the read-only mounts stand in the way.
    for folder in ("inputs", f"inputs/{DID}", "ddos", "transformations"):
        (data_dir / folder).chmod(0o777)
    (data_dir / "inputs" / DID / "0").chmod(0o666)
    outcome = run(
        "import json\n"
        "written = []\n"
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'a').write('changed')\n"
        "        written.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "json.dump({'written': written}, open('/data/outputs/report.json', 'w'))\n"
    )
    assert outcome.exit_code == 0, log_text(data_dir)
    assert report(data_dir)["written"] == []
    assert (data_dir / "inputs" / DID / "0").read_text() == "first file"


def test_timeout_kills_the_whole_tree(run: Runner, data_dir: Path) -> None:
    marker = f"specrunner-timeout-{os.getpid()}"
    limits = SandboxLimits(1, 256 * MiB, 32, MiB)
    started = time.monotonic()
    outcome = run(
        "import subprocess, time\n"
        f"subprocess.Popen(['/bin/sh', '-c', 'sleep 60; : {marker}'])\n"
        "print('started', flush=True)\n"
        "time.sleep(60)\n",
        limits=limits,
    )
    assert time.monotonic() - started < 10
    assert (outcome.reason, outcome.exit_code) == ("timeout", None)
    assert log_text(data_dir).splitlines()[-1] == (
        "specrunner: job killed: exceeded maxJobDuration of 1s"
    )
    assert not _processes_with(marker)


@as_root
def test_memory_limit_then_the_next_job_runs(run: Runner, data_dir: Path) -> None:
    limits = SandboxLimits(30, 64 * MiB, 32, MiB)
    outcome = run(
        "chunks = []\n"
        "for _ in range(64):\n"
        "    chunks.append(bytearray(16 * 2**20))\n"
        "print('allocated 1 GiB', flush=True)\n",
        limits=limits,
    )
    assert outcome.reason == "memory"
    assert outcome.oom_killed
    assert "allocated" not in log_text(data_dir)
    assert "memory limit of 64 MiB" in log_text(data_dir).splitlines()[-1]
    assert run("print('next')").exit_code == 0


@as_root
def test_process_limit(run: Runner, data_dir: Path) -> None:
    outcome = run(
        "import subprocess\n"
        "children = []\n"
        "try:\n"
        "    for _ in range(200):\n"
        "        children.append(subprocess.Popen(['/bin/sleep', '30']))\n"
        "finally:\n"
        "    print('spawned', len(children), flush=True)\n"
        "import time; time.sleep(30)\n"
    )
    assert outcome.reason == "processes"
    assert "limit of 32 processes" in log_text(data_dir).splitlines()[-1]
    spawned = [line for line in log_text(data_dir).splitlines() if line.startswith("spawned")]
    assert spawned and int(spawned[0].split()[1]) < 32
    assert run("print('next')").exit_code == 0


def test_output_total_is_watched(run: Runner, data_dir: Path) -> None:
    started = time.monotonic()
    outcome = run(
        "import time\n"
        "for n in range(4):\n"  # each file under the limit, together twice over it
        "    open(f'/data/outputs/part{n}', 'wb').write(b'x' * 512 * 1024)\n"
        "time.sleep(30)\n"
    )
    assert time.monotonic() - started < 10
    assert (outcome.reason, outcome.exit_code) == ("output_size", None)
    assert "exceeded 1 MiB" in log_text(data_dir).splitlines()[-1]


def test_one_file_is_capped_by_the_kernel(run: Runner, data_dir: Path) -> None:
    outcome = run("open('/data/outputs/big', 'wb').write(b'x' * 10 * 2**20)")
    assert outcome.reason == "output_size"
    assert "File too large" in log_text(data_dir)
    assert (data_dir / "outputs" / "big").stat().st_size <= MiB + 1


def test_stop_kills_promptly(run: Runner, data_dir: Path) -> None:
    stop = threading.Event()
    stopped_at: list[float] = []

    def stop_once_started() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (data_dir / "outputs" / "started").exists():
            time.sleep(0.01)
        stopped_at.append(time.monotonic())
        stop.set()

    thread = threading.Thread(target=stop_once_started)
    thread.start()
    outcome = run("import time; open('/data/outputs/started', 'w'); time.sleep(60)", stop=stop)
    ended = time.monotonic()
    thread.join()
    assert (outcome.reason, outcome.exit_code) == ("stopped", None)
    assert ended - stopped_at[0] < 1.0
    assert log_text(data_dir).splitlines()[-1] == "specrunner: job killed: stopped on request"


@as_root
def test_no_cgroup_is_left_behind(run: Runner) -> None:
    assert run("pass").exit_code == 0
    leftovers = [
        path
        for path in Path("/sys/fs/cgroup").glob(f"**/specrunner-{os.getpid()}-*")
        if path.is_dir()
    ]
    assert leftovers == []


def test_unsandboxed_runs_on_the_host_with_data_rewritten(run: Runner, data_dir: Path) -> None:
    outcome = run(
        "import os\nopen(os.environ['OUTPUTS'] + '/where', 'w').write(os.getcwd())\n",
        sandboxed=False,
    )
    assert outcome.exit_code == 0, log_text(data_dir)
    assert (data_dir / "outputs" / "where").read_text() == str(data_dir)


def test_setup_failure_raises(monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    assert sandbox.check_available() is None  # cached before bwrap is broken below
    monkeypatch.setattr(sandbox_argv, "SHM_BYTES", -1)  # bwrap refuses a negative size
    request = SandboxRequest(data_dir, ["/bin/true"], {}, False, LIMITS)
    with pytest.raises(SandboxError, match="did not start"):
        sandbox.run_sandboxed(request, threading.Event())
    assert log_text(data_dir) == ""  # bwrap's complaint is not passed off as the algorithm's


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
