"""The command line that starts one job: a privileged prelude, then bwrap, then the algorithm.

As root (the provider's normal case) the chain is

    unshare --mount --propagation private -- sh -c PRELUDE ...   join the job's cgroup; bind the
                                                                 job's data folder on GATE in a
                                                                 mount namespace of its own
    prlimit ... --                                                rlimits (limits)
    setpriv --reuid U --regid U --clear-groups --                 the job's own host uid
    bwrap ... -- ALGORITHM                                        the sandbox

all `exec`ed in one process. The gate exists because bwrap, once unprivileged, must reach its
bind sources by path, and the provider's data folder is 0700 root (`--bind-fd` resolves the fd
back to a path, so it does not help). Without root, bwrap runs directly as the provider's user.
"""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from specrunner.errors import SandboxError

# Where, inside the job's private mount namespace only, its data folder is bound for bwrap.
GATE = Path("/run/specrunner-sandbox")
SANDBOX_UID = 1000  # the algorithm's uid inside its user namespace
SANDBOX_HOME = "/tmp"  # noqa: S108 - inside the sandbox: its own small tmpfs
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHM_BYTES = 64 * 2**20
TMP_BYTES_DEFAULT = 256 * 2**20
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Only what interpreters need from /etc: no passwd, shadow, machine-id, ssh or provider config.
ETC_FILES = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/mime.types",
)
NETWORK_ETC_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/gai.conf", "/etc/nsswitch.conf")
READ_ONLY = ("inputs", "ddos", "transformations")
WRITABLE = ("outputs", "logs")
# Runs as root inside `unshare --mount`: join every cgroup, then put the data folder on the gate.
PRELUDE = """
mount=$1 data=$2 gate=$3; shift 3
while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift
"$mount" --bind -- "$data" "$gate" || exit 125
exec "$@"
"""


@dataclass
class Command:
    """What to hand to Popen; the caller closes `fds` once the child started."""

    argv: list[str]
    fds: list[int] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=lambda: {"PATH": HOST_PATH})
    cwd: str = "/"


def tool(name: str) -> str:
    """Absolute path of a host tool the chain needs; SandboxError when it is missing."""
    found = shutil.which(name, path=HOST_PATH)
    if found is None:
        hint = "apt-get install bubblewrap" if name == "bwrap" else "apt-get install util-linux"
        raise SandboxError(f"{name} is not installed on this host; install it with: {hint}")
    return found


def prelude(data_dir: Path, cgroup_procs: list[Path]) -> list[str]:
    """The root-only start of the chain (see the module docstring)."""
    return [
        tool("unshare"), "--mount", "--propagation", "private", "--",
        "/bin/sh", "-c", PRELUDE, "sh", tool("mount"), str(data_dir), str(GATE),
        *map(str, cgroup_procs), "--",
    ]  # fmt: skip


def ensure_gate() -> None:
    """Create the gate folder: a real root-owned directory, never a planted symlink."""
    try:
        GATE.mkdir(mode=0o755, exist_ok=True)
        info = GATE.lstat()
    except OSError as exc:
        raise SandboxError(f"cannot create {GATE}: {exc}") from exc
    if not GATE.is_dir() or GATE.is_symlink() or info.st_uid != 0:
        raise SandboxError(f"{GATE} must be a directory owned by root")


def bwrap_command(
    source: Path,
    argv: list[str],
    env: dict[str, str],
    allow_network: bool,
    status_fd: int,
    tmp_bytes: int | None,
) -> Command:
    """bwrap's own arguments; `source` is where the data folder is seen (the gate, or itself)."""
    command = Command([tool("bwrap"), "--unshare-all"])
    if allow_network:
        command.argv.append("--share-net")
    command.argv += [
        # --disable-userns needs an explicit --unshare-user: it keeps the algorithm from making
        # user namespaces of its own, a large kernel attack surface.
        "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
    ]  # fmt: skip
    command.argv += _system_mounts(allow_network)
    _synthetic_etc(command, allow_network)
    # /tmp and /dev/shm here are the sandbox's own tmpfs mounts, not the host's.
    command.argv += [
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm", "--remount-ro", "/dev",  # noqa: S108
        "--size", str(tmp_bytes or TMP_BYTES_DEFAULT), "--tmpfs", "/tmp",  # noqa: S108
    ]  # fmt: skip
    for name in READ_ONLY:
        command.argv += ["--ro-bind", str(source / name), f"/data/{name}"]
    for name in WRITABLE:
        command.argv += ["--bind", str(source / name), f"/data/{name}"]
    # The sandbox's root is a tmpfs bwrap made: read-only, so nothing is written outside the
    # size-limited /tmp and /dev/shm and the measured /data/outputs and /data/logs.
    command.argv += ["--remount-ro", "/", "--chdir", "/data", "--clearenv"]
    for key, value in sandbox_env(env).items():
        command.argv += ["--setenv", key, value]
    command.argv += ["--json-status-fd", str(status_fd), "--", *argv]
    return command


def sandbox_env(env: dict[str, str]) -> dict[str, str]:
    """The algorithm's whole environment: a few defaults and the request's variables."""
    return {"PATH": DEFAULT_PATH, "HOME": SANDBOX_HOME, "LANG": "C.UTF-8", **env}


def _system_mounts(allow_network: bool) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    etc = [*ETC_FILES, *sorted(glob.glob("/etc/python3*"))]
    if allow_network:
        etc += NETWORK_ETC_FILES
    for path in etc:
        args += ["--ro-bind-try", path, path]
    return args


def _synthetic_etc(command: Command, allow_network: bool) -> None:
    """Passwd and group naming only the sandbox's users, so no host account leaks in."""
    files = {
        "/etc/passwd": (
            "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"algorithm:x:{SANDBOX_UID}:{SANDBOX_UID}:algorithm:{SANDBOX_HOME}:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
        "/etc/group": f"root:x:0:\nalgorithm:x:{SANDBOX_UID}:\nnogroup:x:65534:\n",
        "/etc/hostname": "sandbox\n",
    }
    if not allow_network:
        files["/etc/hosts"] = "127.0.0.1 localhost sandbox\n::1 localhost\n"
    for path, text in files.items():
        fd = os.memfd_create(Path(path).name)
        os.write(fd, text.encode())
        os.lseek(fd, 0, os.SEEK_SET)
        command.fds.append(fd)
        command.argv += ["--perms", "0644", "--ro-bind-data", str(fd), path]
