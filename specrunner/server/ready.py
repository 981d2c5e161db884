"""The ready line of `specrunner provider serve`, for programs that start it and wait.

`serve` prints `specrunner provider <address> listening on <url>` once it accepts
connections; tests and benchmarks start it with `--port 0` and read the URL from there.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time

READY = re.compile(r"listening on (http://\S+)")


def await_ready(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The URL a started `provider serve` listens on (its stdout a text pipe).

    Afterwards its output keeps being read, so the pipe never fills and blocks it. Kills
    the process and raises RuntimeError, with what it printed, when no ready line comes.
    """
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        text = process.stdout.readline()
        if not text:
            break
        seen.append(text)
        match = READY.search(text)
        if match:
            threading.Thread(target=_drain, args=(process,), daemon=True).start()
            return match.group(1)
    process.kill()
    raise RuntimeError("provider did not start:\n" + "".join(seen))


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    for _ in process.stdout:
        pass
