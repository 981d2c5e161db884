"""One job's resource limits: a cgroup when the host lets us make one, else rlimits.

Memory, process count and CPU use a per-job cgroup (v2 `memory.max`/`pids.max`/`cpu.max`, or
the v1 `memory`/`pids`/`cpu` controllers), created under the provider's own cgroup so the host's
limits still hold. A controller we cannot use falls back to an rlimit set by `prlimit(1)`:
RLIMIT_AS for memory, RLIMIT_NPROC for processes (meaningful only because each job runs as its
own host uid). Output size always uses RLIMIT_FSIZE (one file) plus `tree_size` (the total),
measured by the supervisor in `run.py`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# bwrap adds two processes to every sandbox (its outer monitor and the pid-1 reaper); the
# environment's maxProcesses counts the algorithm's own processes only.
BWRAP_PROCESSES = 2
CPU_PERIOD_US = 100_000


@dataclass
class JobCgroup:
    """The cgroup directories of one job: controller -> directory (v2: one shared directory)."""

    dirs: dict[str, Path]
    version: int

    def procs_files(self) -> list[Path]:
        """The `cgroup.procs` files a process writes its pid to, to join every controller."""
        return [folder / "cgroup.procs" for folder in sorted(set(self.dirs.values()))]

    def oom_kills(self) -> int:
        """How many processes the kernel OOM-killed in this job so far."""
        folder = self.dirs.get("memory")
        if folder is None:
            return 0
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _read_counter(folder / name, "oom_kill")

    def pids_limit_hit(self) -> bool:
        """True once a fork or clone failed because of `pids.max`."""
        folder = self.dirs.get("pids")
        return folder is not None and _read_counter(folder / "pids.events", "max") > 0

    def kill(self) -> None:
        """SIGKILL every process left in the cgroup (the pid namespace usually did it already)."""
        for folder in sorted(set(self.dirs.values())):
            if self.version == 2:
                with contextlib.suppress(OSError):
                    (folder / "cgroup.kill").write_text("1")
            for pid in _pids(folder):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def remove(self, timeout: float = 5.0) -> None:
        """Remove the directories; killed processes take a moment to leave, so retry briefly."""
        deadline = time.monotonic() + timeout
        for folder in sorted(set(self.dirs.values())):
            while True:
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break  # left behind rather than block the provider; it holds no process
                    self.kill()
                    time.sleep(0.01)


def create_cgroup(
    name: str, memory_bytes: int | None, max_processes: int | None, cpus: int | None
) -> JobCgroup | None:
    """Make the job's cgroup with the limits it needs; None when none can be made here."""
    if os.geteuid() != 0:
        return None
    wanted = {
        "memory": memory_bytes is not None,
        "pids": max_processes is not None,
        "cpu": cpus is not None and cpus < (os.cpu_count() or 1),
    }
    if not any(wanted.values()):
        return None
    if (CGROUP_ROOT / "cgroup.controllers").is_file():
        dirs = _create_v2(name, [c for c, on in wanted.items() if on])
        version = 2
    else:
        dirs = _create_v1(name, [c for c, on in wanted.items() if on])
        version = 1
    if not dirs:
        return None
    group = JobCgroup(dirs, version)
    try:
        _write_limits(group, memory_bytes, max_processes, cpus)
    except OSError:
        group.remove()
        return None
    return group


def _own_cgroup_paths() -> dict[str, str]:
    """controller -> path of this process's cgroup ("" names the v2 hierarchy)."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller] = path
    return paths


def _create_v1(name: str, controllers: list[str]) -> dict[str, Path]:
    own = _own_cgroup_paths()
    dirs: dict[str, Path] = {}
    for controller in controllers:
        mount = CGROUP_ROOT / controller
        if controller not in own or not (mount / "cgroup.procs").is_file():
            continue
        folder = mount / own[controller].lstrip("/") / name
        if _make_dir(folder):
            dirs[controller] = folder
    return dirs


def _create_v2(name: str, controllers: list[str]) -> dict[str, Path]:
    parent = CGROUP_ROOT / _own_cgroup_paths().get("", "/").lstrip("/")
    try:
        available = (parent / "cgroup.controllers").read_text().split()
    except OSError:
        return {}
    usable = [c for c in controllers if c in available]
    for controller in usable:
        # Fails with EBUSY when the provider sits in a non-root cgroup that has processes
        # (cgroup v2's "no internal processes" rule); then that limit falls back to an rlimit.
        with contextlib.suppress(OSError):
            (parent / "cgroup.subtree_control").write_text(f"+{controller}")
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
    except OSError:
        return {}
    usable = [c for c in usable if c in enabled]
    folder = parent / name
    if not usable or not _make_dir(folder):
        return {}
    return dict.fromkeys(usable, folder)


_swept: set[Path] = set()


def _make_dir(folder: Path) -> bool:
    if folder.parent not in _swept:
        _swept.add(folder.parent)
        _sweep(folder.parent)
    with contextlib.suppress(OSError):
        folder.rmdir()  # a stale, empty cgroup of a dead provider that had our pid
    try:
        folder.mkdir()
    except OSError:
        return False
    return True


def _sweep(parent: Path) -> None:
    """Remove the empty cgroups that providers killed with SIGKILL could not remove."""
    for folder in parent.glob("specrunner-*-*"):
        owner = folder.name.split("-")[1]
        if owner.isdigit() and not Path(f"/proc/{owner}").exists():
            with contextlib.suppress(OSError):
                folder.rmdir()  # fails while it still holds a process: then it is not stale


def _write_limits(
    group: JobCgroup, memory_bytes: int | None, max_processes: int | None, cpus: int | None
) -> None:
    v2 = group.version == 2
    if (folder := group.dirs.get("memory")) is not None and memory_bytes is not None:
        (folder / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(memory_bytes))
        # Swap would let a job exceed ramGB silently; deny it where the kernel accounts it.
        swap = folder / ("memory.swap.max" if v2 else "memory.memsw.limit_in_bytes")
        with contextlib.suppress(OSError):
            swap.write_text("0" if v2 else str(memory_bytes))
        if v2:
            (folder / "memory.oom.group").write_text("1")
    if (folder := group.dirs.get("pids")) is not None and max_processes is not None:
        (folder / "pids.max").write_text(str(max_processes + BWRAP_PROCESSES))
    if (folder := group.dirs.get("cpu")) is not None and cpus is not None:
        quota = cpus * CPU_PERIOD_US
        if v2:
            (folder / "cpu.max").write_text(f"{quota} {CPU_PERIOD_US}")
        else:
            (folder / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            (folder / "cpu.cfs_quota_us").write_text(str(quota))


def prlimit_options(
    memory_bytes: int | None,
    max_processes: int | None,
    output_bytes: int | None,
    group: JobCgroup | None,
    own_uid: bool,
) -> list[str]:
    """`prlimit(1)` options for the limits no cgroup controller covers."""
    controllers = group.dirs if group is not None else {}
    options = ["--core=0"]  # a core dump would land in the job's folder, unlimited by the rest
    if output_bytes is not None:
        # One byte over the limit: a file that reaches it proves the total was exceeded.
        options.append(f"--fsize={output_bytes + 1}")
    if memory_bytes is not None and "memory" not in controllers:
        options.append(f"--as={memory_bytes}")
    if max_processes is not None and "pids" not in controllers and own_uid:
        # RLIMIT_NPROC counts every process of the uid, so only a per-job uid makes it a limit.
        options.append(f"--nproc={max_processes + BWRAP_PROCESSES}")
    return options


def tree_size(folders: list[Path]) -> int:
    """Bytes under `folders`: each entry's apparent size or allocation, whichever is larger.

    Symlinks are not followed; a file hard-linked twice counts twice, as it would be published.
    """
    total = 0
    pending = list(folders)
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue  # removed while we looked
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            total += max(info.st_size, info.st_blocks * 512)
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
    return total


def _read_counter(path: Path, key: str) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


def _pids(folder: Path) -> list[int]:
    try:
        return [int(pid) for pid in (folder / "cgroup.procs").read_text().split()]
    except OSError:
        return []
