"""`specrunner envs`: the compute environments a provider offers."""

from __future__ import annotations

from specrunner.commands._session import open_session
from specrunner.ocean.compute import environments_for_chain
from specrunner.report import Reporter


def run(provider: str | None, chain_id: int | None, reporter: Reporter) -> int:
    with open_session([], embedded=provider is None) as session:
        url = provider or session.embedded_url
        assert url is not None
        if chain_id is None:
            chains = session.client.root(url).raw.get("chainIds") or [8996]
            chain_id = int(chains[0])
        envs = environments_for_chain(session.client.compute_environments(url, chain_id), chain_id)
    reporter.environments(envs, chain_id, "the embedded provider" if provider is None else url)
    return 0
