"""The compute inputs of a start or initializeCompute request, built from a resolved job."""

from __future__ import annotations

from typing import Any

from specrunner.errors import JobFailedError
from specrunner.ocean.models import DDO, AlgorithmMetadata, ComputeInput, Service
from specrunner.resolve.models import ResolvedJob


def valid_order(item: Any, job: ResolvedJob, what: str) -> str:
    order = item.get("validOrder") if isinstance(item, dict) else None
    if not isinstance(order, str) or not order:
        if isinstance(item, dict) and item.get("providerFee"):
            raise JobFailedError(
                f"{job.name}: environment {job.environment.id} is paid, and paying "
                f"for {what} needs an on-chain order, which specrunner cannot "
                f"place yet: choose a free environment"
            )
        raise JobFailedError(f"{job.name}: initializeCompute gave no order for {what}")
    return order


def stub_ddo(did: str, service_id: str, service_type: str) -> tuple[DDO, Service]:
    service = Service(id=service_id, type=service_type)
    return DDO(id=did, services=[service]), service


def dataset_input(job: ResolvedJob, index: int, order: str | None = None) -> ComputeInput:
    item = job.inputs[index]
    ddo, service = stub_ddo(item.did, item.serviceId, "compute")
    return ComputeInput(
        ddo, service, transfer_tx_id=order or item.transferTxId, userdata=item.userdata
    )


def algorithm_input(job: ResolvedJob, order: str | None = None) -> ComputeInput | AlgorithmMetadata:
    algorithm = job.algorithm
    if algorithm.did and algorithm.serviceId:
        ddo, service = stub_ddo(algorithm.did, algorithm.serviceId, "access")
        return ComputeInput(ddo, service, transfer_tx_id=order or algorithm.transferTxId)
    return AlgorithmMetadata.model_validate(algorithm.meta or {})
