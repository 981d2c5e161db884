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
from specrunner.lockfile import LockedJob, LockWriter
from specrunner.ocean.models import JobStatus
from specrunner.ocean.port import ComputeProvider
from specrunner.ocean.signing import Signer
from specrunner.plan import Plan, Step

# A job the provider lost in a restart is no fault of the algorithm's (design §3): it is
# started again this many times on top of the spec's own retries.
RESTARTS_FORGIVEN = 1


@dataclass(frozen=True)
class Outcome:
    name: str
    action: str
    ok: bool
    message: str = ""
    job_id: str | None = None


@dataclass
class Executor:
    """Runs a plan's job steps against `client`, writing each change through `writer`.

    `parallelism` bounds the jobs running at once per provider and environment (and an
    environment's free slots bound it further); `wait=False` returns once each job has
    started; `poll` paces status polls; setting `cancel` stops following at once.
    """

    client: ComputeProvider
    signers: dict[str, Signer]
    writer: LockWriter
    emit: Emit
    workdir: Path
    parallelism: int = 2
    wait: bool = True
    prune: bool = False
    poll: PollPolicy = field(default_factory=PollPolicy)
    cancel: threading.Event = field(default_factory=threading.Event)
    _signing: dict[tuple[str, str], threading.Lock] = field(default_factory=dict, init=False)
    _slots: dict[tuple[str, str], threading.Semaphore] = field(default_factory=dict, init=False)
    _mutex: threading.Lock = field(default_factory=threading.Lock, init=False)

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
        """Start (or adopt) the step's job, then follow and collect it, starting it again
        after a failure while the spec's retries, plus one for a provider restart, last."""
        job = step.job
        assert job is not None
        run = self._job_run(job.provider, job.owner)
        entry = self._first_entry(step, run)
        if not self.wait:
            return Outcome(step.name, step.action, True, "started", entry.jobId)
        previous = step.locked  # whose recorded results the next collect replaces
        restarts = 0  # attempts granted because the provider lost the job in a restart
        for attempt in range(1, job.retries + 2 + RESTARTS_FORGIVEN):
            entry, status = run.follow(job, entry)
            final = run.collect(job, entry, status, previous)
            if final.phase == "finished":
                return Outcome(step.name, step.action, True, "finished", final.jobId)
            if _lost_by_provider(status) and restarts < RESTARTS_FORGIVEN:
                restarts += 1
            if attempt >= job.retries + 1 + restarts:
                break
            self.emit(
                {"event": "retry", "job": step.name, "attempt": attempt + 1, "error": final.error}
            )
            previous = final
            entry = run.start(job, None, final.jobId)
        return Outcome(step.name, step.action, False, final.error or "failed", final.jobId)

    def _first_entry(self, step: Step, run: JobRun) -> LockedJob:
        """The started entry the first attempt follows.

        `resume` carries on with the recorded job: a started one as it is, a pending claim
        adopted or started (never both). `replace` stops the recorded job and removes its
        results before the lock forgets them, so a crash cannot leave stale results behind.
        Any other action starts afresh; the recorded job, if any, is not to be adopted.
        """
        job = step.job
        assert job is not None
        previous = step.locked
        if step.action == "resume" and previous is not None:
            return previous if previous.phase == "started" else run.start(job, previous)
        if step.action == "replace" and previous is not None:
            self._stop_replaced(run, step)
            remove_results(previous, self.workdir)
        return run.start(job, None, previous.jobId if previous is not None else None)

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
