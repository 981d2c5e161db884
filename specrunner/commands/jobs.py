"""`logs`, `results` and `stop`: act on jobs recorded in the lockfile."""

from __future__ import annotations

import time
from pathlib import Path

from specrunner import report
from specrunner.commands._session import (
    default_specs,
    entry_provider,
    job_from_lock,
    needs_embedded,
    open_session,
    recorded,
    signer_for,
)
from specrunner.errors import ProviderError, SpecRunnerError
from specrunner.execute.results import extract_tar, result_path
from specrunner.lockfile import load_lock
from specrunner.ocean.provider import OCEAN_NODE, DataServiceProvider
from specrunner.ocean.signing import Signer

LOG_TYPE = "algorithmLog"


def logs(name: str, lockfile: str, follow: bool = False, poll: float = 1.0) -> int:
    """Print the algorithm's log: the downloaded copy, else fetched from the provider.

    With `follow`, a running job's log is streamed live where the provider offers it
    (ocean-node's computeStreamableLogs); Provider v2 has no live logs, so the command
    waits for the job to end and prints the whole log.
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
        session.resolver.register_wallets(default_specs([], strict=False))
        provider = entry_provider(entry, session.embedded_url)
        signer = signer_for(entry, session)
        if (
            follow
            and entry.dialect == OCEAN_NODE
            and _follow_live(session.client, provider, signer, entry.owner, entry.jobId, poll)
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
        report.line(session.client.download(url).decode("utf-8", errors="replace").rstrip("\n"))
    return 0


def _follow_live(
    client: DataServiceProvider,
    provider: str,
    signer: Signer,
    owner: str,
    job_id: str,
    poll: float,
) -> bool:
    """Stream the live log; a job still queued or provisioning is waited for first. False
    when the job ended without anything streamed (its finished log is fetched instead)."""
    while True:
        if _stream(client, provider, signer, job_id):
            return True
        found = client.compute_status(provider, owner, job_id)
        if not found or found[0].finished:
            return False
        time.sleep(poll)


def _stream(client: DataServiceProvider, provider: str, signer: Signer, job_id: str) -> bool:
    """Print the live log until the job ends; False when it is not running (nothing to
    stream: the finished log is fetched instead)."""
    try:
        for chunk in client.stream_logs(provider, signer, job_id):
            report.raw(chunk.decode("utf-8", errors="replace"))
    except ProviderError as exc:
        if exc.status_code != 404:
            raise
        return False
    return True


def results(name: str, lockfile: str, folder: str | None = None) -> int:
    """Download every recorded result again and check it against the lock's sha256."""
    lock = load_lock(Path(lockfile))
    entry = recorded(lock, name)
    if entry.jobId is None or not entry.results:
        raise SpecRunnerError(f"{name} has no recorded results: run apply first")
    target = Path(folder) if folder else Path(entry.outputsDir or f"results/{name}")
    bad = []
    with open_session([], embedded=needs_embedded(lock, [name])) as session:
        session.resolver.register_wallets(default_specs([], strict=False))
        provider = entry_provider(entry, session.embedded_url)
        signer = signer_for(entry, session)
        unpacked = {r.filename: r.sha256 for r in entry.results if r.type == "extracted"}
        for result in (r for r in entry.results if r.type != "extracted"):
            archive = bool(unpacked) and result.filename.endswith(".tar")
            path = result_path(target, "archive" if archive else result.type, result.filename)
            (url,) = session.client.compute_result_urls(
                provider, signer, entry.jobId, [result.index]
            )
            # Into a side file first: a bad download must not replace a good local copy.
            fresh = path.with_name(f".{path.name}.verify")
            download = session.client.download_to(url, fresh)
            if download.sha256 == result.sha256 or not path.exists():
                fresh.replace(path)
            else:
                fresh.unlink()
            found: list[tuple[str, str, str | None]] = [(str(path), download.sha256, result.sha256)]
            if archive and download.sha256 == result.sha256:
                # ocean-node's outputs.tar, verified: its files were recorded one by one.
                files, _ = extract_tar(path, target)
                found += [(str(p), digest, unpacked.get(member)) for member, p, _, digest in files]

            for shown, digest, expected in found:
                ok = digest == expected
                report.line(f"{'ok' if ok else 'MISMATCH'}  {shown}  sha256 {digest}")
                if not ok:
                    bad.append(shown)
    if bad:
        raise SpecRunnerError(f"{len(bad)} result(s) differ from the lockfile: {', '.join(bad)}")
    return 0


def stop(names: list[str], lockfile: str) -> int:
    """Stop recorded, running jobs; the next apply or status records how they ended."""
    lock = load_lock(Path(lockfile))
    entries = {name: recorded(lock, name) for name in names}
    with open_session([], embedded=needs_embedded(lock, names)) as session:
        session.resolver.register_wallets(default_specs([], strict=False))
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
