"""`specrunner envs`: the compute environments a provider offers."""

from __future__ import annotations

from specrunner import report
from specrunner.commands._session import open_session
from specrunner.ocean.compute import environments_for_chain


def run(provider: str | None, chain_id: int | None, output: str = "text") -> int:
    with open_session([], embedded=provider is None) as session:
        url = provider or session.embedded_url
        assert url is not None
        if chain_id is None:
            chains = session.client.root(url).raw.get("chainIds") or [8996]
            chain_id = int(chains[0])
        envs = environments_for_chain(session.client.compute_environments(url, chain_id), chain_id)
    if output == "json":
        report.as_json(envs)
        return 0
    report.line(
        f"{len(envs)} environment(s) on chain {chain_id} at "
        f"{'the embedded provider' if provider is None else url}:"
    )
    for env in envs:
        price = "free" if not env.get("priceMin") else f"priceMin {env['priceMin']:g}"
        report.line(
            f"  {env['id']}: {price}, {env.get('cpuNumber')} cpu, {env.get('ramGB')} GB "
            f"RAM, {env.get('diskGB')} GB disk, {env.get('currentJobs')}/"
            f"{env.get('maxJobs')} jobs, max {env.get('maxJobDuration')}s"
        )
    return 0
