"""Claims: what apply records before a start request, and which job may be adopted for it.

Provider v2 jobs carry their main order as `agreementId`; ocean-node's free jobs take no
order, so an idempotency key travels in the job's metadata instead (reference §10.2).
"""

from __future__ import annotations

from typing import Any, Literal

from specrunner.errors import ProviderError, ProviderUnreachableError
from specrunner.lockfile import LockedAlgorithm, LockedInput, LockedJob
from specrunner.ocean.models import JobStatus
from specrunner.resolve.models import (
    ResolvedAlgorithm,
    ResolvedEnvironment,
    ResolvedInput,
    ResolvedJob,
)

METADATA_KEY = "specrunnerKey"  # the idempotency key's name in an ocean-node job's metadata


def pending_entry(
    job: ResolvedJob, orders: list[str | None], algo_order: str | None, **extra: Any
) -> LockedJob:
    """The write-ahead entry of a job about to start with these orders."""
    return LockedJob(
        specDigest=job.specDigest,
        fingerprints=job.fingerprints,
        provider=job.provider,
        chainId=job.chainId,
        dialect=job.dialect,
        environment=job.environment.id,
        owner=job.owner,
        phase="pending",
        outputsDir=job.outputsDir,
        inputs=[
            LockedInput(
                did=i.did,
                serviceId=i.serviceId,
                ddoDigest=i.ddoDigest,
                transferTxId=order,
                path=None if i.label == i.did else i.label,
            )
            for i, order in zip(job.inputs, orders, strict=True)
        ],
        algorithm=LockedAlgorithm(
            did=job.algorithm.did,
            serviceId=job.algorithm.serviceId,
            digest=job.algorithm.digest,
            transferTxId=algo_order,
        ),
        **extra,
    )


CLAIM_SKEW = 60.0  # seconds a provider's clock may run behind ours


def adoptable(status: JobStatus, entry: LockedJob) -> bool:
    """Not the replaced job, and not one started before the claim (a reused order)."""
    if entry.replacesJobId and status.jobId == entry.replacesJobId:
        return False
    try:
        created = float(status.dateCreated) if status.dateCreated else None
    except ValueError:
        created = None
    return entry.claimedAt is None or created is None or created >= entry.claimedAt - CLAIM_SKEW


def claim_of(entry: LockedJob) -> str | None:
    """What a pending entry staked before its start request, if anything."""
    if entry.idempotencyKey:
        return entry.idempotencyKey
    order = entry.inputs[0].transferTxId if entry.inputs else None
    return order.lower() if order else None


def job_claim(status: JobStatus, entry: LockedJob) -> str | None:
    """The same claim as read off a provider's job: its metadata key, or its agreementId."""
    if entry.idempotencyKey:
        metadata = (status.model_extra or {}).get("metadata")
        return str(metadata.get(METADATA_KEY)) if isinstance(metadata, dict) else None
    return (status.agreementId or "").lower() or None


Refusal = Literal["unreachable", "in_use", "order_invalid"]


def start_refusal(exc: ProviderError) -> Refusal | None:
    """What a failed start request means for its claim, read off the provider's answer.

    - "unreachable": no answer, so the job may have started: look for it before giving up;
    - "in_use": the claim's order already started a job (a crash after the start): adopt it;
    - "order_invalid": the recorded orders expired or were never valid: order again.
    """
    if isinstance(exc, ProviderUnreachableError):
        return "unreachable"
    body = exc.payload.get("error") if isinstance(exc.payload, dict) else None
    # Provider v2 reports a bad order as a field code (reference §8.3, 400
    # `{"error": {"dataset.serviceId": "order_invalid"}}`); so does our provider.
    if isinstance(body, dict) and any(_has_code(value, "order_invalid") for value in body.values()):
        return "order_invalid"
    # The operator-service's refusal of a reused agreementId carries no code, only its text
    # (§8.4, 400 `{"error": "`agreementId` already in use for other job."}`): match that text.
    if isinstance(body, str) and "already in use" in body:
        return "in_use"
    return None


def _has_code(value: Any, code: str) -> bool:
    return value == code or (isinstance(value, list) and code in value)


def node_extras(job: ResolvedJob, entry: LockedJob) -> dict[str, Any]:
    """What ocean-node takes with a start (§10.2): our key and the spec's labels as the
    job's metadata, resources, the job's maximum duration and its queue wait."""
    extras: dict[str, Any] = {"metadata": {**job.labels, METADATA_KEY: entry.idempotencyKey}}
    if job.resources:
        extras["resources"] = job.resources
    if job.maxJobDuration:
        extras["maxJobDuration"] = job.maxJobDuration
    if job.queueMaxWaitTime:
        extras["queueMaxWaitTime"] = job.queueMaxWaitTime
    return extras


def job_from_lock(name: str, entry: LockedJob, provider: str) -> ResolvedJob:
    """Enough of a resolved job to follow, stop or collect a recorded one without its spec."""
    return ResolvedJob(
        name=name,
        source=f"lockfile entry {name}",
        specDigest=entry.specDigest,
        provider=provider,
        chainId=entry.chainId,
        dialect=entry.dialect,
        embedded=entry.fingerprints.get("provider") == "embedded",
        owner=entry.owner,
        environment=ResolvedEnvironment(id=entry.environment, reason="recorded"),
        inputs=[
            ResolvedInput(
                did=i.did,
                serviceId=i.serviceId,
                ddoDigest=i.ddoDigest,
                label=i.path or i.did,
                transferTxId=i.transferTxId,
            )
            for i in entry.inputs
        ],
        algorithm=ResolvedAlgorithm(
            digest=entry.algorithm.digest,
            label="recorded",
            did=entry.algorithm.did,
            serviceId=entry.algorithm.serviceId,
        ),
        outputsDir=entry.outputsDir or f"results/{name}",
        fingerprints=entry.fingerprints,
    )
