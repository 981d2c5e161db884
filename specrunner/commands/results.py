"""`results`: download a recorded job's results again and check them against the lock."""

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
from specrunner.errors import SpecRunnerError
from specrunner.execute.results import extract_tar, placement, recorded_path, result_path
from specrunner.lockfile import load_lock
from specrunner.report import Reporter


def run(name: str, lockfile: str, reporter: Reporter, folder: str | None = None) -> int:
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
            kind = placement(entry.dialect, result.type, result.filename)
            archive = kind == "archive"
            if folder is None and result.path:
                # Where apply put it, as the lock says (checked: the lock is hand-editable).
                path = recorded_path(Path(), target, result.path)
            else:
                path = result_path(target, kind, result.filename)
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
                reporter.result_checked(shown, digest, ok)
                if not ok:
                    bad.append(shown)
    if bad:
        raise SpecRunnerError(f"{len(bad)} result(s) differ from the lockfile: {', '.join(bad)}")
    return 0
