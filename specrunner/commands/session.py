"""What plan, apply and status share: manifests, the embedded provider, a resolver."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from specrunner import report
from specrunner.ocean.provider import DataServiceProvider
from specrunner.ocean.signing import Signer
from specrunner.resolve import Resolver
from specrunner.spec import Spec


@dataclass
class Session:
    client: DataServiceProvider
    resolver: Resolver
    embedded_url: str | None


@contextlib.contextmanager
def open_session(specs: Sequence[Spec], embedded: bool | None = None) -> Iterator[Session]:
    """A provider client and resolver; the embedded provider runs while the session is open
    when a spec has no `provider:` (or when `embedded` asks for it)."""
    from specrunner.embedded import EmbeddedProvider

    need_embedded = any(spec.provider is None for spec in specs) if embedded is None else embedded
    need_wallet = any(spec.wallet is None for spec in specs)
    client = DataServiceProvider()
    try:
        signer = _default_signer() if need_wallet else None
        with contextlib.ExitStack() as stack:
            url = None
            if need_embedded:
                url = stack.enter_context(EmbeddedProvider()).url
            yield Session(client, Resolver(client, signer, embedded_url=url), url)
    finally:
        client.close()


def _default_signer() -> Signer:
    from specrunner.wallet import load_wallet

    wallet = load_wallet()
    if wallet.created:
        report.error(f"created a development key for {wallet.signer.address} in {wallet.source}")
    return wallet.signer
