"""What plan, apply and status share: manifests, the embedded provider, a resolver."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from specrunner import report
from specrunner.errors import SpecRunnerError
from specrunner.lockfile import Lock, LockedJob
from specrunner.ocean.provider import DataServiceProvider
from specrunner.ocean.signing import Signer
from specrunner.resolve.resolver import Resolver
from specrunner.spec import Spec


@dataclass
class Session:
    client: DataServiceProvider
    resolver: Resolver
    embedded_url: str | None


@contextlib.contextmanager
def open_session(
    specs: Sequence[Spec], embedded: bool = False, wallet: bool = False, share: bool = True
) -> Iterator[Session]:
    """A provider client and resolver. The embedded provider runs while the session is
    open when a spec has no `provider:` or `embedded` asks for it; the default wallet is
    loaded when a spec has no `wallet:` or `wallet` asks for it."""
    from specrunner.server.embedded import EmbeddedProvider

    need_embedded = embedded or any(spec.provider is None for spec in specs)
    need_wallet = wallet or any(spec.wallet is None for spec in specs)
    client = DataServiceProvider()
    try:
        signer = _default_signer() if need_wallet else None
        with contextlib.ExitStack() as stack:
            url = None
            if need_embedded:
                url = stack.enter_context(EmbeddedProvider(allow_shared=share)).url
            resolver = Resolver(client, signer, embedded_url=url)
            resolver.register_wallets(specs)
            yield Session(client, resolver, url)
    finally:
        client.close()


def _default_signer() -> Signer:
    from specrunner.wallet import load_wallet

    wallet = load_wallet()
    if wallet.created:
        report.error(f"created a development key for {wallet.signer.address} in {wallet.source}")
    return wallet.signer


def entry_provider(entry: LockedJob, embedded_url: str | None) -> str:
    """Where a recorded job lives: the embedded provider moves to a new port every run."""
    if entry.fingerprints.get("provider") == "embedded":
        if embedded_url is None:
            raise SpecRunnerError("the embedded provider is not running")
        return embedded_url
    return entry.provider


def needs_embedded(lock: Lock, names: Sequence[str] | None = None) -> bool:
    return any(
        entry.fingerprints.get("provider") == "embedded"
        for name, entry in lock.jobs.items()
        if names is None or name in names
    )


def signer_for(entry: LockedJob, session: Session) -> Signer:
    """The wallet that owns a recorded job: the environment's key or the development key."""
    signer = session.resolver.signers.get(entry.owner)
    if signer is None:
        if session.resolver.default_signer is None:
            session.resolver.default_signer = _default_signer()
        signer = session.resolver.default_signer
    if signer.address.lower() != entry.owner.lower():
        raise SpecRunnerError(
            f"job {entry.jobId} belongs to {entry.owner}; set SPECRUNNER_PRIVATE_KEY to its key"
        )
    return signer


def recorded(lock: Lock, name: str) -> LockedJob:
    entry = lock.jobs.get(name)
    if entry is None:
        known = ", ".join(sorted(lock.jobs)) or "none"
        raise SpecRunnerError(f"no job {name!r} in the lockfile (recorded: {known})")
    return entry


def default_specs(paths: Sequence[str], strict: bool = True) -> list[Spec]:
    """The specs named, or those in `specs/` when it exists (to learn their wallets).

    Not `strict`: a broken manifest nearby only means its wallet stays unknown.
    """
    from specrunner.errors import ManifestError
    from specrunner.manifest.loader import load_manifests

    try:
        if paths:
            return load_manifests(list(paths))
        return load_manifests(["specs"]) if Path("specs").is_dir() else []
    except ManifestError:
        if strict:
            raise
        return []
