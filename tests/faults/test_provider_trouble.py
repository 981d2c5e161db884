"""The provider failing under a running apply (issue 5, Faults): it answers 500, goes away,
or is slow; and the disk fills while results download.

The provider is real; between it and apply sits a loopback proxy (tests/faults/proxy.py)
that can answer 500, stop listening, or delay every answer.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningProvider
from tests.faults.proxy import Proxy
from tests.faults.workspace import Workspace, until


@pytest.fixture
def proxy(provider: RunningProvider) -> Iterator[Proxy]:
    made = Proxy(provider.url)
    yield made
    made.close()


def _started(ws: Workspace, name: str) -> bool:
    if not ws.lockfile.exists():
        return False
    with contextlib.suppress(Exception):  # read while apply replaces it: retry
        entry = ws.lock().jobs.get(name)
        return entry is not None and entry.phase == "started"
    return False


def _apply_until_started(ws: Workspace, name: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        ws.command("apply"),
        cwd=ws.root,
        env={**os.environ, **ws.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        until(lambda: _started(ws, name) or process.poll() is not None, what="job started")
    except BaseException:
        process.kill()
        process.communicate()
        raise
    assert process.poll() is None, process.communicate()
    return process


def _later_apply_continues(ws: Workspace, name: str) -> None:
    job_id = ws.lock().jobs[name].jobId
    assert job_id
    again = ws.cli("apply")
    assert again.returncode == 0, again.stdout + again.stderr
    entry = ws.lock().jobs[name]
    assert (entry.phase, entry.jobId) == ("finished", job_id)  # the same job, collected
    assert [job["jobId"] for job in ws.owner_jobs()] == [job_id]


def test_500_mid_apply_is_retried_with_backoff_then_a_clear_error(
    proxy: Proxy, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path, proxy.url)
    ws.add("one", sleep=3)
    process = _apply_until_started(ws, "one")
    switched = time.monotonic()
    proxy.faults.mode = "500"
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback" not in stderr
    assert "computeStatus" in stderr and "500" in stderr and "injected" in stderr, stderr
    seen = proxy.requests("/api/services/compute", switched)
    polls = [s for s in seen if s.method == "GET" and s.answered == 500]
    assert len(polls) == 4  # one status call: the first try and 3 retries, then it gave up
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(polls)]
    assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8, gaps  # backoff doubles
    assert ws.lock().jobs["one"].phase == "started"
    proxy.faults.mode = "pass"
    _later_apply_continues(ws, "one")


def test_provider_gone_mid_apply_is_a_clear_error_and_a_later_apply_continues(
    proxy: Proxy, tmp_path: Path
) -> None:
    ws = Workspace(tmp_path, proxy.url)
    ws.add("one", sleep=3)
    process = _apply_until_started(ws, "one")
    proxy.down()
    gone = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert time.monotonic() - gone < 15  # bounded: a few retries, not a hang
    assert process.returncode == 1
    assert f"no answer from {proxy.url} to computeStatus" in stderr, stderr
    assert ws.lock().jobs["one"].phase == "started"
    proxy.up()  # the same port: the provider is back
    _later_apply_continues(ws, "one")


@pytest.mark.slow
def test_slow_provider_still_runs_each_spec_exactly_once(proxy: Proxy, tmp_path: Path) -> None:
    ws = Workspace(tmp_path, proxy.url)
    for name in ("a", "b"):
        ws.add(name)
    proxy.faults.delay = 0.3
    result = ws.cli("apply", "--parallelism", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    lock = ws.lock()
    assert {entry.phase for entry in lock.jobs.values()} == {"finished"}
    assert sorted(job["jobId"] for job in ws.owner_jobs()) == sorted(
        str(entry.jobId) for entry in lock.jobs.values()
    )
    starts = [s for s in proxy.requests("/api/services/compute") if s.method == "POST"]
    assert len(starts) == 2


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs inside the workspace (outputs stay under it), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "repo" / "small"
    mount.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_downloading_is_a_clear_error_and_nothing_truncated_is_recorded(
    provider: RunningProvider, tmp_path: Path, small_disk: Path
) -> None:
    ws = Workspace(tmp_path / "repo", provider.url)
    ws.add("big", outputs_dir="small/big", size=200_000)
    result = ws.cli("apply")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "No space left on device" in result.stderr, result.stderr
    assert "big" in result.stderr
    entry = ws.lock().jobs["big"]  # still a valid lock
    assert entry.phase != "finished"
    for recorded in entry.results:
        path = ws.root / recorded.path
        assert path.stat().st_size == recorded.filesize  # whatever is recorded is whole
    leftovers = [p.name for p in small_disk.rglob("*") if p.is_file()]
    assert "out.txt" not in leftovers and not [n for n in leftovers if n.endswith(".tmp")]
    # With room again, a later apply collects the same job's results, whole.
    subprocess.run(["umount", "-l", str(small_disk)], check=True)
    again = ws.cli("apply")
    assert again.returncode == 0, again.stdout + again.stderr
    finished = ws.lock().jobs["big"]
    assert finished.phase == "finished" and finished.jobId == entry.jobId
    out = next(r for r in finished.results if r.filename == "out.txt")
    assert (ws.root / out.path).stat().st_size == 200_000 == out.filesize
