"""`logs`, `results` and `stop`: act on jobs recorded in the lockfile."""

from __future__ import annotations

import time
from pathlib import Path

from specrunner import report
from specrunner.commands.session import (
    default_specs,
    entry_provider,
    job_from_lock,
    needs_embedded,
    open_session,
    recorded,
    signer_for,
)
from specrunner.errors import SpecRunnerError
from specrunner.lockfile import load_lock
from specrunner.results import result_path

LOG_TYPE = "algorithmLog"


def logs(name: str, lockfile: str, follow: bool = False, poll: float = 1.0) -> int:
    """Print the algorithm's log: the downloaded copy, else fetched from the provider.

    With `follow`, wait for a running job to end first (Provider v2 has no live logs).
    """
    lock = load_lock(Path(lockfile))
    entry = recorded(lock, name)
    local = next((r for r in entry.results if r.type == LOG_TYPE), None)
    if local is not None and Path(local.path).is_file():
        report.line(Path(local.path).read_text(encoding="utf-8", errors="replace").rstrip("\n"))
        return 0
    if entry.jobId is None:
        raise SpecRunnerError(f"{name} has not started yet")
    with open_session([], embedded=needs_embedded(lock, [name])) as session:
        session.resolver.register_wallets(default_specs([]))
        provider = entry_provider(entry, session.embedded_url)
        signer = signer_for(entry, session)
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
        report.line(session.client.download(url).decode("utf-8", errors="replace").rstrip("\n"))
    return 0


def results(name: str, lockfile: str, folder: str | None = None) -> int:
    """Download every recorded result again and check it against the lock's sha256."""
    lock = load_lock(Path(lockfile))
    entry = recorded(lock, name)
    if entry.jobId is None or not entry.results:
        raise SpecRunnerError(f"{name} has no recorded results: run apply first")
    target = Path(folder) if folder else Path(entry.outputsDir or f"results/{name}")
    bad = []
    with open_session([], embedded=needs_embedded(lock, [name])) as session:
        session.resolver.register_wallets(default_specs([]))
        provider = entry_provider(entry, session.embedded_url)
        signer = signer_for(entry, session)
        for result in entry.results:
            path = result_path(target, result.type, result.filename)
            (url,) = session.client.compute_result_urls(
                provider, signer, entry.jobId, [result.index]
            )
            download = session.client.download_to(url, path)
            ok = download.sha256 == result.sha256
            report.line(f"{'ok' if ok else 'MISMATCH'}  {path}  sha256 {download.sha256}")
            if not ok:
                bad.append(str(path))
    if bad:
        raise SpecRunnerError(f"{len(bad)} result(s) differ from the lockfile: {', '.join(bad)}")
    return 0


def stop(names: list[str], lockfile: str) -> int:
    """Stop recorded, running jobs; the next apply or status records how they ended."""
    lock = load_lock(Path(lockfile))
    entries = {name: recorded(lock, name) for name in names}
    with open_session([], embedded=needs_embedded(lock, names)) as session:
        session.resolver.register_wallets(default_specs([]))
        for name, entry in entries.items():
            if entry.jobId is None or entry.phase != "started":
                report.line(f"{name}: not running ({entry.phase})")
                continue
            provider = entry_provider(entry, session.embedded_url)
            run_job = job_from_lock(name, entry, provider)
            session.client.stop_compute(
                provider, signer_for(entry, session), entry.jobId, run_job.inputs[0].did
            )
            report.line(f"{name}: stop requested for job {entry.jobId}")
    return 0


__all__ = ["logs", "results", "stop"]
