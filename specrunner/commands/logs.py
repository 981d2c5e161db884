"""`logs`: print a recorded job's algorithm log, live where the provider streams it."""

from __future__ import annotations

import time
from pathlib import Path

from specrunner.commands._session import (
    Session,
    default_specs,
    entry_provider,
    needs_embedded,
    open_session,
    recorded,
    signer_for,
)
from specrunner.errors import ProviderError, SpecRunnerError
from specrunner.lockfile import LockedJob, load_lock
from specrunner.ocean.provider import OCEAN_NODE, DataServiceProvider
from specrunner.ocean.signing import Signer
from specrunner.report import Reporter

LOG_TYPE = "algorithmLog"


def run(
    name: str, lockfile: str, reporter: Reporter, follow: bool = False, poll: float = 1.0
) -> int:
    """Print the algorithm's log: the downloaded copy, else fetched from the provider.

    With `follow`, a running job's log is streamed live where the provider offers it
    (ocean-node's computeStreamableLogs); Provider v2 has no live logs, so the command
    waits for the job to end and prints the whole log.
    """
    lock = load_lock(Path(lockfile))
    entry = recorded(lock, name)
    local = next((r for r in entry.results if r.type == LOG_TYPE), None)
    if local is not None and Path(local.path).is_file():
        reporter.log(Path(local.path).read_text(encoding="utf-8", errors="replace"))
        return 0
    if entry.jobId is None:
        raise SpecRunnerError(f"{name} has not started yet")
    with open_session([], embedded=needs_embedded(lock, [name])) as session:
        session.resolver.register_wallets(default_specs([], strict=False))
        provider = entry_provider(entry, session.embedded_url)
        signer = signer_for(entry, session)
        if (
            follow
            and entry.dialect == OCEAN_NODE
            and _follow_live(session, provider, signer, entry, poll, reporter)
        ):
            return 0
        while True:
            found = session.client.compute_status(provider, entry.owner, entry.jobId)
            status = found[0] if found else None
            if status is None:
                raise SpecRunnerError(f"job {entry.jobId} vanished from {provider}")
            if status.finished or not follow:
                break
            time.sleep(poll)
        index = next((i for i, r in enumerate(status.results) if r.type == LOG_TYPE), None)
        if index is None:
            raise SpecRunnerError(
                f"{name}: no algorithm log yet (status {status.status} {status.statusText.strip()})"
            )
        (url,) = session.client.compute_result_urls(provider, signer, entry.jobId, [index])
        reporter.log(session.client.download(url).decode("utf-8", errors="replace"))
    return 0


def _follow_live(
    session: Session,
    provider: str,
    signer: Signer,
    entry: LockedJob,
    poll: float,
    reporter: Reporter,
) -> bool:
    """Stream the live log; a job still queued or provisioning is waited for first. False
    when the job ended without anything streamed (its finished log is fetched instead)."""
    client, job_id = session.client, entry.jobId
    assert job_id is not None
    while True:
        if _stream(client, provider, signer, job_id, reporter):
            return True
        found = client.compute_status(provider, entry.owner, job_id)
        if not found or found[0].finished:
            return False
        time.sleep(poll)


def _stream(
    client: DataServiceProvider, provider: str, signer: Signer, job_id: str, reporter: Reporter
) -> bool:
    """Print the live log until the job ends; False when it is not running (nothing to
    stream: the finished log is fetched instead)."""
    try:
        for chunk in client.stream_logs(provider, signer, job_id):
            reporter.log_chunk(chunk.decode("utf-8", errors="replace"))
    except ProviderError as exc:
        if exc.status_code != 404:
            raise
        return False
    return True
