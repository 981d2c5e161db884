"""`specrunner status`: refresh recorded jobs from their providers and report drift.

Unfinished jobs are followed up (a job started with `apply --no-wait` that has ended gets
its results downloaded and recorded). Exit 0 when everything is in sync, 2 when anything
is not (running, failed, vanished, results missing or changed, inputs changed, a spec
never applied), 1 on errors.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from specrunner.commands._session import (
    Session,
    default_specs,
    entry_provider,
    needs_embedded,
    open_session,
    signer_for,
)
from specrunner.errors import ProviderError, SpecRunnerError
from specrunner.execute.claims import job_from_lock
from specrunner.execute.jobrun import JobRun, PollPolicy
from specrunner.lockfile import Lock, LockedJob, LockWriter, exclusive, load_lock
from specrunner.plan import changed_inputs
from specrunner.report import JobReport, Reporter
from specrunner.resolve.digests import file_sha256
from specrunner.resolve.models import ResolvedJob


def run(paths: list[str], lockfile: str, reporter: Reporter, lock_timeout: float = 30.0) -> int:
    lock_path = Path(lockfile)
    specs = default_specs(paths)
    with exclusive(lock_path, timeout=lock_timeout, command="status"):
        lock = load_lock(lock_path)
        embedded = needs_embedded(lock)
        with open_session(specs, embedded=embedded) as session:
            # Resolving first also finds each spec's wallet for the jobs it owns.
            resolved = {spec.name: session.resolver.resolve(spec) for spec in specs}
            writer = LockWriter(lock_path, lock)
            reports = [
                _refresh(name, entry, session, writer) for name, entry in sorted(lock.jobs.items())
            ]
            _compare_specs(resolved, writer.lock, reports)
    reporter.status(reports)
    return 2 if any(item.drift for item in reports) else 0


def _refresh(name: str, entry: LockedJob, session: Session, writer: LockWriter) -> JobReport:
    item = JobReport(name, entry.phase, entry.status, entry.statusText, entry.jobId)
    try:
        if entry.phase == "started":
            entry = _follow_up(name, entry, session, writer)
            item = JobReport(name, entry.phase, entry.status, entry.statusText, entry.jobId)
    except ProviderError as exc:
        item.drift.append(f"provider error: {exc}")
        return item
    except SpecRunnerError as exc:
        item.drift.append(str(exc))
        return item
    if entry.phase == "pending":
        item.drift.append("ordered but never started: run apply")
    elif entry.phase == "started":
        item.drift.append("still running")
    elif entry.phase == "failed":
        item.drift.append(f"failed: {entry.error}")
    item.drift.extend(_result_drift(entry))
    return item


def _follow_up(name: str, entry: LockedJob, session: Session, writer: LockWriter) -> LockedJob:
    """One status request; a job that has ended gets its results collected now."""
    provider = entry_provider(entry, session.embedded_url)
    job = job_from_lock(name, entry, provider)
    assert entry.jobId is not None
    found = session.client.compute_status(provider, entry.owner, entry.jobId)
    status = next((s for s in found if s.jobId == entry.jobId), None)
    if status is None:
        raise SpecRunnerError(f"job {entry.jobId} vanished from {provider}")
    if not status.finished:
        if (status.status, status.statusText) == (entry.status, entry.statusText):
            return entry  # nothing new: the lock (and its serial) stay as they are
        updated = entry.model_copy(
            update={"status": status.status, "statusText": status.statusText}
        )
        writer.put(name, updated)
        return updated
    run = JobRun(
        session.client,
        signer_for(entry, session),
        writer,
        _quiet,
        threading.Lock(),
        PollPolicy(),
        Path.cwd(),
    )
    return run.collect(job, entry, status, None)


def _result_drift(entry: LockedJob) -> list[str]:
    drift = []
    for result in entry.results:
        path = Path(result.path)
        if not path.is_file():
            drift.append(f"result missing: {result.path}")
        elif file_sha256(path) != result.sha256:
            drift.append(f"result changed since download: {result.path}")
    return drift


def _compare_specs(resolved: dict[str, ResolvedJob], lock: Lock, reports: list[JobReport]) -> None:
    by_name = {item.name: item for item in reports}
    if resolved:
        for name in sorted(set(lock.jobs) - set(resolved)):
            by_name[name].drift.append("no longer in the specs (apply --prune drops it)")
    for name, job in resolved.items():
        entry = lock.jobs.get(name)
        if entry is None:
            reports.append(JobReport(name, "absent", drift=["not applied yet"]))
            continue
        changed = changed_inputs(job, entry)
        if changed:
            by_name[name].drift.append("inputs changed: " + ", ".join(changed))


def _quiet(_event: dict[str, Any]) -> None:
    """Status reports at the end; progress events are not shown."""
