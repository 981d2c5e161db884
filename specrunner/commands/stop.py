"""`stop`: ask the provider to stop recorded jobs that are running."""

from __future__ import annotations

from pathlib import Path

from specrunner.commands._session import (
    default_specs,
    entry_provider,
    needs_embedded,
    open_session,
    recorded,
    signer_for,
)
from specrunner.execute.claims import job_from_lock
from specrunner.lockfile import load_lock
from specrunner.report import Reporter


def run(names: list[str], lockfile: str, reporter: Reporter) -> int:
    """Stop recorded, running jobs; the next apply or status records how they ended."""
    lock = load_lock(Path(lockfile))
    entries = {name: recorded(lock, name) for name in names}
    with open_session([], embedded=needs_embedded(lock, names)) as session:
        session.resolver.register_wallets(default_specs([], strict=False))
        for name, entry in entries.items():
            if entry.jobId is None or entry.phase != "started":
                reporter.not_running(name, entry.phase)
                continue
            provider = entry_provider(entry, session.embedded_url)
            run_job = job_from_lock(name, entry, provider)
            session.client.stop_compute(
                provider, signer_for(entry, session), entry.jobId, run_job.inputs[0].did
            )
            reporter.stop_requested(name, entry.jobId)
    return 0
