"""The Ocean compute client SDK: `OceanCompute` (the seed's API) over Provider v2 HTTP.

    from specrunner.ocean import AlgorithmMetadata, Aquarius, ComputeInput, OceanCompute

    ddo = Aquarius(provider_url).resolve(did)
    dataset = ComputeInput(ddo, ddo.services[0], transfer_tx_id=order_tx)
    job_id = OceanCompute().start(wallet, dataset, env_id, algorithm_meta=AlgorithmMetadata(...))

Names are imported lazily, so `specrunner.ocean.signing` users (the embedded provider)
do not load the HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from specrunner.ocean.aquarius import Aquarius
    from specrunner.ocean.compute import OceanCompute
    from specrunner.ocean.models import (
        DDO,
        AlgorithmMetadata,
        ComputeEnvironment,
        ComputeInput,
        ComputeOptions,
        Container,
        JobStatus,
        ResultFile,
        Service,
    )
    from specrunner.ocean.provider import DataServiceProvider, Download, ProviderInfo
    from specrunner.ocean.signing import Signer

_HOMES = {
    "Aquarius": "aquarius",
    "OceanCompute": "compute",
    "DataServiceProvider": "provider",
    "Download": "provider",
    "ProviderInfo": "provider",
    "Signer": "signing",
    **{
        name: "models"
        for name in (
            "DDO",
            "AlgorithmMetadata",
            "ComputeEnvironment",
            "ComputeInput",
            "ComputeOptions",
            "Container",
            "JobStatus",
            "ResultFile",
            "Service",
        )
    },
}

__all__ = [
    "DDO",
    "AlgorithmMetadata",
    "Aquarius",
    "ComputeEnvironment",
    "ComputeInput",
    "ComputeOptions",
    "Container",
    "DataServiceProvider",
    "Download",
    "JobStatus",
    "OceanCompute",
    "ProviderInfo",
    "ResultFile",
    "Service",
    "Signer",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'specrunner.ocean' has no attribute {name!r}")
    return getattr(importlib.import_module(f"specrunner.ocean.{home}"), name)
