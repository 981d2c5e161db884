"""`specrunner publish`: upload files to a specrunner provider as a DDO v4 asset."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrunner.errors import SpecRunnerError
from specrunner.report import Reporter


@dataclass(frozen=True)
class PublishOptions:
    asset_type: str = "dataset"
    name: str | None = None
    entrypoint: str | None = None
    image: str | None = None
    tag: str | None = None
    allow_raw_algorithm: bool = False
    allow_network: bool = False
    trusted_algorithms: list[str] = field(default_factory=list)
    trusted_publishers: list[str] = field(default_factory=list)


def run(files: list[str], provider_url: str, options: PublishOptions, reporter: Reporter) -> int:
    from specrunner.ocean.provider import DataServiceProvider
    from specrunner.ocean.publishing import build_publish_request
    from specrunner.wallet import load_wallet

    paths = [Path(name) for name in files]
    for path in paths:
        if not path.is_file():
            raise SpecRunnerError(f"{path}: no such file")
    wallet = load_wallet()
    if wallet.created:
        reporter.warning(
            f"created a development key for {wallet.signer.address} in {wallet.source}"
        )
    body = build_publish_request(
        paths,
        options.asset_type,
        options.name,
        compute=_compute_options(options) if options.asset_type == "dataset" else None,
        algorithm=_algorithm_options(options) if options.asset_type == "algorithm" else None,
    )
    with contextlib.closing(DataServiceProvider()) as client:
        ddo = client.publish(provider_url, wallet.signer, body)
    reporter.published(options.asset_type, ddo)
    return 0


def _compute_options(options: PublishOptions) -> dict[str, Any]:
    return {
        "allowRawAlgorithm": options.allow_raw_algorithm,
        "allowNetworkAccess": options.allow_network,
        "publisherTrustedAlgorithms": [{"did": did} for did in options.trusted_algorithms],
        "publisherTrustedAlgorithmPublishers": list(options.trusted_publishers),
    }


def _algorithm_options(options: PublishOptions) -> dict[str, Any]:
    container = {
        key: value
        for key, value in (
            ("entrypoint", options.entrypoint),
            ("image", options.image),
            ("tag", options.tag),
        )
        if value
    }
    return {"container": container}


__all__ = ["PublishOptions", "run"]
