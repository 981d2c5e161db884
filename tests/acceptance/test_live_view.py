"""`specrunner apply` on a real terminal: the live table stays one line per job at any width.

The CLI runs in a pseudo-terminal of a given size, against the embedded provider; the bytes
it writes are fed through pyte (a terminal emulator) and the final screen is checked.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pyte
import pytest

ROOT = Path(__file__).resolve().parents[2]

ALGORITHM = """\
import time
time.sleep(0.5)
open("/data/outputs/done.txt", "w").write("done")
print("done")
"""

# Long names that differ early, so a shortened name still tells the jobs apart.
NAMES = [f"{index:02d}-summary-of-the-quarterly-sales-by-region" for index in range(1, 4)]


def workspace(folder: Path, names: list[str]) -> Path:
    (folder / "specs" / "data").mkdir(parents=True)
    (folder / "specs" / "algo.py").write_text(ALGORITHM)
    for name in names:
        (folder / "specs" / "data" / f"{name}.txt").write_text(f"data of {name}\n")
        (folder / "specs" / f"{name}.yaml").write_text(
            "apiVersion: specrunner/v1\nkind: ComputeJob\n"
            f"metadata: {{name: {name}}}\n"
            f"datasets:\n  - path: data/{name}.txt\n"
            "algorithm:\n  file: algo.py\n"
            "  container: {entrypoint: python3 $ALGO, image: python, tag: '3.11'}\n"
        )
    return folder


def run_in_terminal(
    folder: Path, args: list[str], columns: int, rows: int = 60, timeout: float = 120
) -> tuple[int, bytes]:
    """Run `specrunner ARGS` with a pseudo-terminal of `columns` x `rows` as its terminal."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "specrunner", *args],
        cwd=folder,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError as exc:  # EIO: the child closed the terminal
                    if exc.errno != errno.EIO:
                        raise
                    data = b""
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        else:
            pytest.fail(f"apply still running after {timeout}s: {b''.join(chunks)!r}")
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return code, b"".join(chunks)


def screen_of(data: bytes, columns: int, rows: int = 60) -> list[str]:
    screen = pyte.Screen(columns, rows)
    pyte.ByteStream(screen).feed(data)
    lines = [text.rstrip() for text in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def shortened(shown: str, name: str) -> bool:
    """`shown` is `name`, or a prefix of it cut with an ellipsis."""
    return shown == name or (shown.endswith("…") and name.startswith(shown[:-1]) and shown != "…")


@pytest.mark.parametrize("columns", [80, 40])
def test_live_table_fits_a_narrow_terminal(tmp_path: Path, columns: int) -> None:
    folder = workspace(tmp_path / "repo", NAMES)
    code, data = run_in_terminal(folder, ["apply", "specs/"], columns)
    lines = screen_of(data, columns)
    shown = "\n".join(lines)
    assert code == 0, shown
    assert all(len(text) <= columns for text in lines)

    # The plan, a blank line, one row per job, a blank line, the summary: nothing else.
    ends = [i for i, text in enumerate(lines) if text.endswith("orphaned.")]
    assert ends, f"the plan's summary is not on the screen:\n{shown}"
    end_of_plan = ends[-1]
    table = lines[end_of_plan + 2 : end_of_plan + 2 + len(NAMES)]
    assert lines[end_of_plan + 1] == "", shown
    assert lines[end_of_plan + 2 + len(NAMES)] == "", shown
    assert lines[end_of_plan + 3 + len(NAMES)].startswith("Apply complete"), shown
    for name, row in zip(NAMES, table, strict=True):
        assert row.startswith("  "), shown
        first, _, state = row.strip().partition("  ")
        assert shortened(first, name), shown
        assert state.strip().startswith("fini"), shown
    # Each job once: no row repeated from an earlier redraw.
    assert sum("fini" in text for text in lines) == len(NAMES), shown
    lock = json.loads((folder / "specrunner.lock.json").read_text())
    assert sorted(lock["jobs"]) == NAMES


def test_piped_output_stays_plain_lines(tmp_path: Path) -> None:
    """Not a terminal: one plain line per event, no escape codes, rich not needed."""
    folder = workspace(tmp_path / "repo", NAMES[:1])
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "specrunner", "apply", "specs/"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout
    assert f"{NAMES[0]}: finished (4 results)" in done.stdout.splitlines()
