"""What resolution produces: each spec bound to a provider, environment, inputs and digests.

These frozen models are the only input of `plan.make_plan` besides the lock, so planning
stays a pure function.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ResolvedModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResolvedInput(ResolvedModel):
    did: str
    serviceId: str
    ddoDigest: str
    label: str  # how the spec named it: a DID, or a local path
    userdata: dict[str, Any] | None = None
    transferTxId: str | None = None


class ResolvedAlgorithm(ResolvedModel):
    digest: str  # code and container, or the published DDO
    label: str
    did: str | None = None
    serviceId: str | None = None
    transferTxId: str | None = None
    meta: dict[str, Any] | None = None  # a raw algorithm, as AlgorithmMetadata fields
    customData: dict[str, Any] | None = None


class ResolvedEnvironment(ResolvedModel):
    id: str
    reason: str  # why this one: named in the spec, or the selectors and the tie-break
    priceMin: float = 0
    freeSlots: int | None = None
    maxJobDuration: int | None = None


class ResolvedJob(ResolvedModel):
    name: str
    source: str  # file:line of the spec, for messages
    specDigest: str
    provider: str
    chainId: int
    dialect: str = "provider-v2"
    embedded: bool = False
    owner: str
    environment: ResolvedEnvironment
    inputs: list[ResolvedInput]
    algorithm: ResolvedAlgorithm
    timeoutSeconds: float | None = None
    retries: int = 0
    # What ocean-node accepts with a start (reference §10.2); Provider v2 ignores them.
    resources: list[dict[str, Any]] = Field(default_factory=list)
    maxJobDuration: int | None = None
    queueMaxWaitTime: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    outputsDir: str
    fingerprints: dict[str, str] = Field(default_factory=dict)
