"""Processes killed with SIGKILL (issue 5, Faults): the provider while jobs run, and the
runner at random points under load. State must survive both, and no spec may run twice.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningProvider, start_provider
from tests.faults.proxy import Proxy
from tests.faults.workspace import Workspace, until

CONFIG = """\
chainId: 8996
environments:
  - id: crash
    cpuNumber: 1
    ramGB: 0.5
    diskGB: 0.1
    maxJobs: 2
    maxJobDuration: 120
"""


@pytest.fixture
def crashable(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A provider data folder and config; the test starts and kills providers on them."""
    config = tmp_path / "provider.yaml"
    config.write_text(CONFIG)
    yield tmp_path / "provider-data", config


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_provider_sigkilled_while_jobs_run_restarts_with_every_job_and_apply_converges(
    crashable: tuple[Path, Path], tmp_path: Path
) -> None:
    data_dir, config = crashable
    first = start_provider(data_dir, config=config)
    # A stable address for the specs across the restart, as a host name would give.
    proxy = Proxy(first.url)
    second: RunningProvider | None = None
    try:
        ws = Workspace(tmp_path / "repo", proxy.url)
        for name in ("done1", "done2"):
            ws.add(name)
        assert ws.cli("apply").returncode == 0
        finished_before = {job["jobId"]: job["results"] for job in ws.owner_jobs()}
        local_before = {
            r.path: (ws.root / r.path).read_bytes()
            for entry in ws.lock().jobs.values()
            for r in entry.results
        }
        for name in ("long1", "long2", "queued"):
            ws.add(name, sleep=4)
        assert ws.cli("apply", "--no-wait").returncode == 0

        def two_running() -> bool:
            return sum(job["status"] == 40 for job in ws.owner_jobs()) == 2

        until(two_running, what="two jobs running")
        all_ids = {job["jobId"] for job in ws.owner_jobs()}
        assert len(all_ids) == 5
        os.kill(first.process.pid, signal.SIGKILL)
        first.stop()

        second = start_provider(data_dir, config=config)
        proxy.upstream = second.url
        # Every job is still listed, and every one ends: none stays running forever.
        jobs = until(
            lambda: (
                (listed := ws.owner_jobs())
                and all(job["dateFinished"] for job in listed)
                and listed
            ),
            timeout=60,
            what="every job finished after the restart",
        )
        assert {job["jobId"] for job in jobs} == all_ids
        by_id = {job["jobId"]: job for job in jobs}
        interrupted = [
            j for j in jobs if (j["terminationDetails"] or {}).get("reason") == "provider-restart"
        ]
        assert len(interrupted) == 2, [j["terminationDetails"] for j in jobs]
        for job in interrupted:
            assert "algorithmLog" in [r["type"] for r in job["results"]]
        # Finished results are intact: the same list, the same bytes.
        for job_id, results in finished_before.items():
            assert by_id[job_id]["results"] == results
        for path, data in local_before.items():
            assert (ws.root / path).read_bytes() == data
        # Rerunning apply converges: the lost jobs run again (once), then nothing is left to do.
        rerun = ws.cli("apply")
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        assert len(ws.owner_jobs()) == 5 + len(interrupted)
        lock = ws.lock()
        assert {entry.phase for entry in lock.jobs.values()} == {"finished"}
        for entry in lock.jobs.values():
            for result in entry.results:
                assert _sha256((ws.root / result.path).read_bytes()) == result.sha256
        plan = ws.cli("plan", "--detailed-exitcode")
        assert plan.returncode == 0, plan.stdout + plan.stderr
    finally:
        proxy.close()
        first.stop()
        if second is not None:
            second.stop()


@pytest.mark.slow
def test_runner_sigkilled_at_random_points_under_load_runs_each_spec_exactly_once(
    crashable: tuple[Path, Path], tmp_path: Path
) -> None:
    data_dir, config = crashable
    config.write_text(CONFIG.replace("maxJobs: 2", "maxJobs: 4"))
    provider = start_provider(data_dir, config=config)
    try:
        ws = Workspace(tmp_path / "repo", provider.url)
        names = [f"job{n:02d}" for n in range(50)]
        for name in names:
            ws.add(name)
        seed = int.from_bytes(os.urandom(4), "big")
        rng = random.Random(seed)
        for _ in range(4):
            process = ws.popen("apply", "--parallelism", "4")
            time.sleep(rng.uniform(0.5, 4.0))  # a random point in its run, not a state to wait for
            process.send_signal(signal.SIGKILL)
            process.wait()
        final = ws.cli("apply", "--parallelism", "4", timeout=300)
        assert final.returncode == 0, f"seed {seed}: " + final.stdout + final.stderr
        jobs = ws.owner_jobs()
        assert len(jobs) == len(names), f"seed {seed}: {len(jobs)} jobs for {len(names)} specs"
        lock = ws.lock()
        assert sorted(job["jobId"] for job in jobs) == sorted(
            str(lock.jobs[name].jobId) for name in names
        )
        assert {entry.phase for entry in lock.jobs.values()} == {"finished"}
    finally:
        provider.stop()
