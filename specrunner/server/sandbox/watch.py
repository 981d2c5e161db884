"""Watching a running job: its exit, the stop event, the wall clock and the watched limits."""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time

from specrunner.server.sandbox import argv as sandbox_argv
from specrunner.server.sandbox import limits as sandbox_limits
from specrunner.server.sandbox.limits import JobCgroup
from specrunner.server.sandbox.request import SandboxRequest

TICK = 0.1  # how often a running job's stop event and limits are checked: stop acts within it


class Watch:
    """Decides when a running job must end, and why: (reason, message) or None."""

    def __init__(
        self, request: SandboxRequest, group: JobCgroup | None, stop: threading.Event | None
    ) -> None:
        self.limits = request.limits
        self.group = group
        self.stop = stop
        self.folders = [request.data_dir / name for name in sandbox_argv.WRITABLE]
        self.next_measure = 0.0
        self.oom_killed = False

    def supervise(
        self, process: subprocess.Popen[bytes], deadline: float
    ) -> tuple[str, str] | None:
        """Block until the job exits (None) or must be killed (the verdict)."""
        # A pidfd turns readable the moment the process exits, so a short job costs no polling.
        pidfd = os.pidfd_open(process.pid)
        try:
            while True:
                wait = max(0.0, min(TICK, deadline - time.monotonic()))
                if select.select([pidfd], [], [], wait)[0]:
                    return None
                verdict = self._check(deadline)
                if verdict is not None:
                    return verdict
        finally:
            os.close(pidfd)

    def after_exit(self) -> tuple[str, str]:
        """The verdict for a job that ended by itself: a limit may still be why."""
        return self._limit_hit(final=True) or ("exited", "")

    def _check(self, deadline: float) -> tuple[str, str] | None:
        if self.stop is not None and self.stop.is_set():
            return "stopped", "stopped on request"
        if time.monotonic() >= deadline:
            return "timeout", f"exceeded maxJobDuration of {self.limits.wall_seconds:g}s"
        return self._limit_hit(final=False)

    def _limit_hit(self, final: bool) -> tuple[str, str] | None:
        limits = self.limits
        if self.group is not None:
            if self.group.oom_kills() > 0:
                self.oom_killed = True
                return (
                    "memory",
                    f"exceeded its memory limit of {_size(limits.memory_bytes)} (ramGB)",
                )
            if self.group.pids_limit_hit():
                return "processes", f"exceeded its limit of {limits.max_processes} processes"
        now = time.monotonic()
        if limits.output_bytes is not None and (final or now >= self.next_measure):
            size = sandbox_limits.tree_size(self.folders)
            # Measuring a huge tree costs; never spend more than a tenth of the time on it.
            self.next_measure = now + max(TICK, (time.monotonic() - now) * 10)
            if size > limits.output_bytes:
                limit = _size(limits.output_bytes)
                return "output_size", f"outputs and logs exceeded {limit} (diskGB)"
        return None


def _size(value: int | None) -> str:
    if value is None:
        return "no limit"
    if value % 2**20 == 0:
        return f"{value // 2**20} MiB"
    return f"{value} bytes"
