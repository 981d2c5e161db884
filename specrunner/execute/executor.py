"""Run a plan: bounded concurrency per provider and environment, one JobRun per step.

Every state change reaches the lockfile at once through one LockWriter, so a killed
apply loses nothing and the next one resumes.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from specrunner.errors import ProviderError, SpecRunnerError
from specrunner.execute.jobrun import Emit, JobRun, PollPolicy, remove_results
from specrunner.lockfile import LockWriter
from specrunner.ocean.models import JobStatus
from specrunner.ocean.provider import DataServiceProvider
from specrunner.ocean.signing import Signer
from specrunner.plan import Plan, Step


@dataclass(frozen=True)
class Outcome:
    name: str
    action: str
    ok: bool
    message: str = ""
    job_id: str | None = None


@dataclass
class Executor:
    client: DataServiceProvider
    signers: dict[str, Signer]
    writer: LockWriter
    emit: Emit
    workdir: Path
    parallelism: int = 2
    wait: bool = True
    prune: bool = False
    poll: PollPolicy = field(default_factory=PollPolicy)
    _signing: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    _slots: dict[tuple[str, str], threading.Semaphore] = field(default_factory=dict)
    _mutex: threading.Lock = field(default_factory=threading.Lock)
    cancel: threading.Event = field(default_factory=threading.Event)

    def execute(self, plan: Plan) -> list[Outcome]:
        """Outcomes in the plan's order; jobs run concurrently, other steps inline."""
        runnable = [
            step
            for step in plan.steps
            if step.job is not None and step.action in ("create", "replace", "resume")
        ]
        results: dict[str, Outcome] = {}
        # A thread per job (they mostly wait): jobs of a busy environment, queued on its
        # semaphore, must not hold the threads another environment's jobs need.
        with ThreadPoolExecutor(max_workers=max(1, min(len(runnable), 256))) as pool:
            futures = {step.name: pool.submit(self._guarded, step) for step in runnable}
            for step in plan.steps:
                if step.name not in futures:
                    results[step.name] = self._inline(step)
            try:
                for name, future in futures.items():
                    results[name] = future.result()
            except KeyboardInterrupt:
                # Stop following at once; the pool then ends without waiting for jobs.
                self.cancel.set()
                raise
        return [results[step.name] for step in plan.steps]

    def _inline(self, step: Step) -> Outcome:
        if step.action == "orphan" and self.prune:
            self.writer.put(step.name, None)
            self.emit({"event": "pruned", "job": step.name})
            return Outcome(step.name, "pruned", True)
        self.emit(
            {
                "event": step.action if step.action == "orphan" else "kept",
                "job": step.name,
                "reason": step.reason,
            }
        )
        return Outcome(step.name, step.action, True)

    def _guarded(self, step: Step) -> Outcome:
        assert step.job is not None
        with self._slot(step):
            try:
                return self._run(step)
            except SpecRunnerError as exc:
                self.emit({"event": "failed", "job": step.name, "error": str(exc)})
                return Outcome(step.name, step.action, False, str(exc))

    def _run(self, step: Step) -> Outcome:
        job = step.job
        assert job is not None
        run = self._job_run(job.provider, job.owner)
        previous = step.locked
        attempts = job.retries + 1
        lost_once = False  # a job the provider lost in a restart is started again, once
        attempt = 0
        while attempt < attempts:
            attempt += 1
            pending = previous if step.action == "resume" and attempt == 1 else None
            if step.action == "replace" and attempt == 1 and previous is not None:
                self._stop_replaced(run, step)
                # Before the lock forgets them: a crash must not leave stale results behind.
                remove_results(previous, self.workdir)
            replaced = previous.jobId if previous is not None and pending is None else None
            entry = (
                previous
                if pending is not None and previous is not None and previous.phase == "started"
                else run.start(job, pending, replaced)
            )
            if not self.wait:
                return Outcome(step.name, step.action, True, "started", entry.jobId)
            entry, status = run.follow(job, entry)
            final = run.collect(job, entry, status, previous)
            if final.phase == "finished":
                return Outcome(step.name, step.action, True, "finished", final.jobId)
            if _lost_by_provider(status) and not lost_once:
                lost_once, attempts = True, attempts + 1
            if attempt < attempts:
                self.emit(
                    {
                        "event": "retry",
                        "job": step.name,
                        "attempt": attempt + 1,
                        "error": final.error,
                    }
                )
            previous = final
        return Outcome(step.name, step.action, False, final.error or "failed", final.jobId)

    def _stop_replaced(self, run: JobRun, step: Step) -> None:
        """A replaced job still running is stopped first: its results would be stale."""
        locked = step.locked
        if locked is None or locked.phase != "started" or not locked.jobId or step.job is None:
            return
        try:
            run.stop(step.job, locked.jobId)
        except ProviderError as exc:
            self.emit(
                {
                    "event": "warning",
                    "job": step.name,
                    "message": f"could not stop the replaced job {locked.jobId}: {exc}",
                }
            )

    def _job_run(self, provider: str, owner: str) -> JobRun:
        with self._mutex:
            lock = self._signing.setdefault((provider, owner.lower()), threading.Lock())
        return JobRun(
            self.client,
            self.signers[owner],
            self.writer,
            self.emit,
            lock,
            self.poll,
            self.workdir,
            self.cancel,
        )

    def _slot(self, step: Step) -> threading.Semaphore:
        """At most `parallelism` jobs per provider and environment, and never more than
        the environment's free slots."""
        job = step.job
        assert job is not None
        key = (job.provider, job.environment.id)
        with self._mutex:
            if key not in self._slots:
                limit = self.parallelism
                if job.environment.freeSlots is not None:
                    limit = min(limit, max(1, job.environment.freeSlots))
                self._slots[key] = threading.Semaphore(max(1, limit))
            return self._slots[key]


def _lost_by_provider(status: JobStatus) -> bool:
    """The provider restarted while the job ran: no fault of the algorithm's (design §3)."""
    return (status.terminationDetails or {}).get("reason") == "provider-restart"
