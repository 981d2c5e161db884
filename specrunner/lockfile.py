"""The lockfile (design §6): canonical JSON, atomic writes, one apply at a time.

A lockfile that does not parse, or that has a version we do not know, is an error that
names it, and it is never overwritten: it may hold the only record of paid jobs.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from specrunner.atomic import write_atomic
from specrunner.errors import LockfileError

LOCK_VERSION = 1
MAX_NESTING = 64  # a real lock nests about 6 deep
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(r"[\[\]{}]")

Phase = Literal["pending", "started", "finished", "failed"]


class LockModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LockedInput(LockModel):
    did: str
    serviceId: str
    ddoDigest: str
    transferTxId: str | None = None
    path: str | None = None  # the local path it was published from, if any


class LockedAlgorithm(LockModel):
    did: str | None = None
    serviceId: str | None = None
    digest: str
    transferTxId: str | None = None


class LockedResult(LockModel):
    index: int
    type: str
    filename: str
    filesize: int
    sha256: str
    path: str


class LockedJob(LockModel):
    """One job: what it was started from, where, and what came back."""

    specDigest: str
    fingerprints: dict[str, str] = Field(default_factory=dict)
    provider: str
    chainId: int
    dialect: str = "provider-v2"
    environment: str
    owner: str
    phase: Phase = "pending"
    jobId: str | None = None
    status: int | None = None
    statusText: str | None = None
    exitCode: int | None = None
    dateCreated: str | None = None
    dateFinished: str | None = None
    error: str | None = None
    outputsDir: str | None = None
    # ocean-node's free jobs take no orders: this key, sent in the job's metadata, is what
    # a rerun adopts a started job by.
    idempotencyKey: str | None = None
    claimedAt: float | None = None  # when the claim above was written, before the start
    replacesJobId: str | None = None  # the job this one replaces: never adopted for it
    inputs: list[LockedInput] = Field(default_factory=list)
    algorithm: LockedAlgorithm
    results: list[LockedResult] = Field(default_factory=list)


class Lock(LockModel):
    version: int = LOCK_VERSION
    serial: int = 0
    lineage: str = Field(default_factory=lambda: uuid.uuid4().hex)
    jobs: dict[str, LockedJob] = Field(default_factory=dict)

    def with_job(self, name: str, job: LockedJob | None) -> Lock:
        """A copy with `name` set to `job` (or removed when None)."""
        jobs = dict(self.jobs)
        if job is None:
            jobs.pop(name, None)
        else:
            jobs[name] = job
        return self.model_copy(update={"jobs": jobs})


def load_lock(path: Path) -> Lock:
    """The lock at `path`, or a new empty one when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Lock()
    except (OSError, UnicodeDecodeError) as exc:
        raise LockfileError(f"{path}: cannot read the lockfile: {exc}") from exc
    if _nesting(text) > MAX_NESTING:
        raise LockfileError(
            f"{path}: the lockfile nests deeper than {MAX_NESTING} levels, which no lockfile "
            "does; it was left untouched"
        )
    try:
        raw: Any = json.loads(text)
    except ValueError as exc:
        line, col = getattr(exc, "lineno", 0), getattr(exc, "colno", 0)
        raise LockfileError(
            f"{path}:{line}:{col}: the lockfile is not valid JSON; it was left untouched "
            "(restore it from git, or move it away to start from an empty lock)"
        ) from exc
    if not isinstance(raw, dict):
        raise LockfileError(f"{path}: the lockfile must hold a JSON object")
    version = raw.get("version")
    if version != LOCK_VERSION:
        raise LockfileError(
            f"{path}: lockfile version {version!r} is not supported by this specrunner "
            f"(expected {LOCK_VERSION}); it was left untouched"
        )
    problem = _schema_problem(raw)
    if problem is not None:
        raise LockfileError(f"{path}: invalid lockfile at {problem}; it was left untouched")
    try:
        return Lock.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise LockfileError(
            f"{path}: invalid lockfile at $.{where}: {first['msg']}; it was left untouched"
        ) from exc


def _nesting(text: str) -> int:
    """How deep arrays and objects nest in JSON `text` (strings skipped). Checked before
    parsing: json and jsonschema recurse, and a few thousand levels crash the interpreter."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _schema_problem(raw: dict[str, Any]) -> str | None:
    """The first way `raw` breaks `schemas/lock.schema.json` (the public contract), if any."""
    error = next(
        iter(sorted(_lock_validator().iter_errors(raw), key=lambda e: [str(p) for p in e.path])),
        None,
    )
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
    return f"${where}: {error.message}"


@functools.cache
def _lock_validator() -> Any:
    """Built once per process, with the schema's local `$ref`s inlined (it has no
    recursion): resolving them per job was a fifth of loading a 10,000-job lock, and the
    schema check is most of it (bench/bench_plan.py)."""
    from jsonschema import Draft202012Validator

    from specrunner.schema_files import LOCK_SCHEMA, inline_refs, load_schema

    schema = load_schema(LOCK_SCHEMA)
    return Draft202012Validator(inline_refs(schema))


def dump_lock(lock: Lock) -> bytes:
    """Canonical JSON: sorted keys, two-space indent, trailing newline (design §6)."""
    data = lock.model_dump(mode="json", exclude_none=True)
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def save_lock(path: Path, lock: Lock) -> Lock:
    """Write the next serial of `lock` atomically and return what was written."""
    written = lock.model_copy(update={"serial": lock.serial + 1})
    write_atomic(path, dump_lock(written))
    return written


class LockWriter:
    """The apply's lock state: each job change is applied and written at once.

    Job threads share one writer; its mutex keeps every write a whole, newer lock.
    """

    def __init__(self, path: Path, lock: Lock) -> None:
        self.path = path
        self.lock = lock
        self._mutex = threading.Lock()

    def put(self, name: str, job: LockedJob | None) -> None:
        with self._mutex:
            self.lock = save_lock(self.path, self.lock.with_job(name, job))


@contextlib.contextmanager
def exclusive(path: Path, timeout: float = 10.0, command: str = "apply") -> Iterator[None]:
    """Hold `<lockfile>.lock` for the duration; after `timeout` seconds say who holds it."""
    guard = path.with_name(path.name + ".lock")
    guard.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(guard, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, guard, timeout)
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, guard: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise LockfileError(
                    f"{guard.with_suffix('')} is in use by {_describe_holder(guard)}; "
                    f"waited {timeout:g}s"
                ) from None
            time.sleep(0.1)


def _describe_holder(guard: Path) -> str:
    try:
        holder = json.loads(guard.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "another specrunner process"
    return (
        f"specrunner {holder.get('command', '?')} (pid {holder.get('pid')} on "
        f"{holder.get('host')}, since {holder.get('since')})"
    )
