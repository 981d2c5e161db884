"""Run one algorithm in a bubblewrap sandbox with Ocean's `/data` layout (reference Appendix A).

API (the engine calls it from a worker thread)::

    check_available() -> str | None            None when a trivial sandboxed job runs here;
                                               else why not and how to fix it (cached)
    run_sandboxed(request: SandboxRequest, stop: threading.Event) -> SandboxOutcome
                                               blocks; raises SandboxError when the sandbox
                                               cannot be built; `stop.set()` ends the job

`SandboxRequest.data_dir` holds inputs/, ddos/, transformations/ (read-only at /data/...) and
outputs/, logs/ (writable). The algorithm's stdout and stderr go to `logs/algorithm.log`; when
a limit or a stop ends the job, a last line `specrunner: job killed: <why>` is appended
(`job ended:` when the job ended by itself and a limit was still the cause, e.g. a file that
hit RLIMIT_FSIZE). `SandboxOutcome.reason` is one of "exited", "timeout", "memory", "processes",
"output_size", "stopped"; `exit_code` is None when we killed the job, else the algorithm's code
(128 + signal when a signal ended it). The limits mean: memory_bytes for the whole job (and its
/tmp, which is memory); max_processes not counting bwrap's own two; output_bytes for outputs/
and logs/ together, as both are published.

What the algorithm gets: every namespace unshared (network too unless `allow_network`), its own
pid 1, an empty environment plus `request.env`, PATH, HOME=/tmp and LANG; /usr and a few /etc
files read-only; /tmp and /dev/shm as small tmpfs; nothing else of the host. As root, it runs
as a host uid of its own (UID_BASE + pid * SLOTS + slot), uid 1000 inside, with outputs/ and
logs/ chowned to it; without root, as the provider's user. Limits: see `limits`; the
wall clock, stop, OOM kills, the process limit and the size of outputs+logs are checked by
`watch.Watch` every 0.1 s while the job runs. The caller's thread must outlive the job
(it does: this blocks), since bwrap's --die-with-parent is tied to it.

`sandboxed=False` (a development environment) runs argv on the host, `/data` rewritten to the
data folder, with the same environment and limits but none of the isolation.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from specrunner.errors import SandboxError
from specrunner.server.sandbox import argv as sandbox_argv
from specrunner.server.sandbox import limits as sandbox_limits
from specrunner.server.sandbox.limits import JobCgroup
from specrunner.server.sandbox.request import (
    LOG_NAME,
    SLOTS,
    UID_BASE,
    SandboxLimits,
    SandboxOutcome,
    SandboxRequest,
)
from specrunner.server.sandbox.watch import Watch


@functools.cache
def check_available() -> str | None:
    """Run `true` in a real sandbox once; None when it worked, else a message for the operator."""
    try:
        sandbox_argv.tool("bwrap")
        with tempfile.TemporaryDirectory(prefix="specrunner-probe-") as folder:
            data = Path(folder) / "data"
            limits = SandboxLimits(30.0, 64 * 2**20, 8, 2**20)
            outcome = _run(SandboxRequest(data, ["/bin/true"], {}, False, limits), None)
    except SandboxError as exc:
        return str(exc)
    if outcome.exit_code != 0:
        return f"bubblewrap cannot run a trivial job here: {outcome.message}"
    return None


def run_sandboxed(request: SandboxRequest, stop: threading.Event) -> SandboxOutcome:
    """Run the job to its end (see the module docstring); SandboxError if it cannot start."""
    if request.sandboxed:
        problem = check_available()
        if problem is not None:
            raise SandboxError(problem)
    return _run(request, stop)


def _run(request: SandboxRequest, stop: threading.Event | None) -> SandboxOutcome:
    privileged = os.geteuid() == 0
    with _job_slot() as slot:
        uid = UID_BASE + (os.getpid() % 2**22) * SLOTS + slot
        _prepare_folders(request.data_dir, uid if privileged and request.sandboxed else None)
        limits = request.limits
        group = sandbox_limits.create_cgroup(
            f"specrunner-{os.getpid()}-{slot}",
            limits.memory_bytes,
            limits.max_processes,
            limits.cpus,
        )
        try:
            return _run_in(request, stop, group, uid if privileged else None)
        finally:
            if group is not None:
                group.kill()
                group.remove()


def _run_in(
    request: SandboxRequest, stop: threading.Event | None, group: JobCgroup | None, uid: int | None
) -> SandboxOutcome:
    # bwrap reports {"child-pid": ...} here once the sandbox is built: the sign that a failure
    # was the algorithm's, not the sandbox's. Read only after bwrap exited, so non-blocking.
    status_read, status_write = os.pipe()
    os.set_blocking(status_read, False)
    try:
        with (request.data_dir / "logs" / LOG_NAME).open("a+b") as log:  # a+: see _take_back
            return _supervised(request, stop, group, uid, log, status_write, status_read)
    finally:
        os.close(status_read)
        os.close(status_write)


def _supervised(
    request: SandboxRequest,
    stop: threading.Event | None,
    group: JobCgroup | None,
    uid: int | None,
    log: BinaryIO,
    status_write: int,
    status_read: int,
) -> SandboxOutcome:
    log_start = log.tell()
    command = _command(request, group, uid, status_write)
    try:
        started = time.monotonic()
        process = _spawn(command, log, status_write)
    finally:
        for fd in command.fds:
            os.close(fd)
    watch = Watch(request, group, stop)
    verdict = None
    try:
        verdict = watch.supervise(process, started + request.limits.wall_seconds)
    finally:
        if process.poll() is None:  # a verdict, or an error of ours: never leave it running
            _kill(process, group)
        process.wait()
    duration = time.monotonic() - started
    if verdict is None and request.sandboxed and b'"child-pid"' not in _read_all(status_read):
        raise SandboxError(f"the sandbox did not start: {_take_back(log, log_start)}")
    killed = verdict is not None
    verdict = verdict or watch.after_exit()
    return _outcome(process.returncode, verdict, killed, duration, watch, log)


def _command(
    request: SandboxRequest, group: JobCgroup | None, uid: int | None, status_fd: int
) -> sandbox_argv.Command:
    limits = request.limits
    options = sandbox_limits.prlimit_options(
        limits.memory_bytes, limits.max_processes, limits.output_bytes, group, uid is not None
    )
    chain = [sandbox_argv.tool("prlimit"), *options, "--"]
    if not request.sandboxed:
        data = request.data_dir
        argv = [_on_host(arg, data) for arg in request.argv]
        env = {k: _on_host(v, data) for k, v in sandbox_argv.sandbox_env(request.env).items()}
        prelude = _join_cgroup(group) if uid is not None else []
        return sandbox_argv.Command([*prelude, *chain, *argv], env=env, cwd=str(data))
    source = request.data_dir
    if uid is not None:
        sandbox_argv.ensure_gate()
        procs = group.procs_files() if group is not None else []
        chain = [*sandbox_argv.prelude(request.data_dir, procs), *chain]
        chain += [sandbox_argv.tool("setpriv"), f"--reuid={uid}", f"--regid={uid}"]
        chain += ["--clear-groups", "--"]
        source = sandbox_argv.GATE
    tmp_bytes = limits.memory_bytes
    bwrap = sandbox_argv.bwrap_command(
        source, request.argv, request.env, request.allow_network, status_fd, tmp_bytes
    )
    bwrap.argv = [*chain, *bwrap.argv]
    return bwrap


def _join_cgroup(group: JobCgroup | None) -> list[str]:
    """`sh` that joins the cgroup before exec'ing the rest (no preexec_fn: we have threads)."""
    if group is None:
        return []
    script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
    return ["/bin/sh", "-c", script, "sh", *map(str, group.procs_files()), "--"]


def _on_host(value: str, data_dir: Path) -> str:
    if value == "/data" or value.startswith("/data/"):
        return str(data_dir) + value[len("/data") :]
    return value


def _spawn(command: sandbox_argv.Command, log: BinaryIO, status_fd: int) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            command.argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=[*command.fds, status_fd],
            env=command.env,
            cwd=command.cwd,
            # Its own process group, so one killpg reaches the whole chain.
            start_new_session=True,
        )
    except OSError as exc:
        raise SandboxError(f"cannot start the sandbox: {exc}") from exc


def _outcome(
    returncode: int, verdict: tuple[str, str], killed: bool, duration: float, watch: Watch,
    log: BinaryIO,
) -> SandboxOutcome:  # fmt: skip
    reason, message = verdict
    # Negative: we killed the chain itself. Otherwise bwrap passes the algorithm's code on
    # (128 + signal when a signal ended it).
    exit_code = None if returncode < 0 else returncode
    if reason == "exited":
        message = f"algorithm exited with code {exit_code}"
    else:
        log.seek(0, os.SEEK_END)
        separator = b"\n" if log.tell() > 0 and not _ends_with_newline(log) else b""
        verb = "killed" if killed else "ended"
        log.write(separator + f"specrunner: job {verb}: {message}\n".encode())
    return SandboxOutcome(exit_code, reason, message, duration, oom_killed=watch.oom_killed)


def _ends_with_newline(log: BinaryIO) -> bool:
    return os.pread(log.fileno(), 1, log.tell() - 1) == b"\n"


def _kill(process: subprocess.Popen[bytes], group: JobCgroup | None) -> None:
    """Kill the outer bwrap; --die-with-parent kills its pid 1, and with it the namespace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if group is not None:
        group.kill()


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _take_back(log: BinaryIO, start: int) -> str:
    """Remove the setup errors bwrap wrote to the log (not the algorithm's) and return them."""
    log.seek(start)
    text = log.read().decode(errors="replace").strip()
    log.truncate(start)
    return text.splitlines()[-1] if text else "no error message"


_slots_lock = threading.Lock()
_slots_used: set[int] = set()


@contextlib.contextmanager
def _job_slot() -> Iterator[int]:
    """A number unique among this process's running jobs: it names the uid and the cgroup."""
    with _slots_lock:
        free = [slot for slot in range(SLOTS) if slot not in _slots_used]
        if not free:
            raise SandboxError(f"more than {SLOTS} jobs at once in one provider")
        _slots_used.add(free[0])
    try:
        yield free[0]
    finally:
        with _slots_lock:
            _slots_used.discard(free[0])


def _prepare_folders(data_dir: Path, uid: int | None) -> None:
    """Create the layout; for a per-job uid, open it to that uid (outputs, logs: its own).

    The job folder's ancestors stay 0700 root: the algorithm reaches it only through the gate,
    so read permission for "other" on these files reaches no other host user.
    """
    for name in (*sandbox_argv.READ_ONLY, *sandbox_argv.WRITABLE):
        (data_dir / name).mkdir(parents=True, exist_ok=True)
    if uid is None:
        return
    _add_mode(data_dir, 0o005)
    for name in sandbox_argv.READ_ONLY:
        for current, _dirs, files in os.walk(data_dir / name):
            _add_mode(Path(current), 0o005)
            for file_name in files:
                _add_mode(Path(current) / file_name, 0o004)
    for name in sandbox_argv.WRITABLE:
        os.chown(data_dir / name, uid, uid)


def _add_mode(path: Path, bits: int) -> None:
    info = path.lstat()
    if not path.is_symlink() and info.st_mode & bits != bits:
        path.chmod(info.st_mode & 0o7777 | bits)
