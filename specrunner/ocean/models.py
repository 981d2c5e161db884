"""Wire models of Ocean C2D: DDO v4, services, compute inputs, environments and job status.

Field names are camelCase exactly as Ocean sends them (reference §5, §6). Models are
tolerant of what real providers send: unknown fields are kept, numbers may arrive as
strings, and `results` may be "" instead of a list.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _number_or_none(value: Any) -> Any:
    """Operator-engine sends configured numbers as strings (reference §4.4)."""
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return value
        return int(number) if number == number.to_integral_value() else float(number)
    return value


def _results_list(value: Any) -> Any:
    """operator-service answers `""` while a job has no results yet (reference §6.2)."""
    if value is None or value == "":
        return []
    return value


def _text_or_none(value: Any) -> Any:
    """Timestamps come as strings, floats or null depending on the stack."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return str(value)
    return value


# Terminal failures of ocean-node (§10.2); Provider v2's own failures (31, 32) are among
# them, and no other Provider v2 code is, so one set serves both dialects.
FAILURE_STATUSES = frozenset({2, 11, 13, 14, 21, 22, 31, 32, 33, 41, 42, 61, 62})

Number = Annotated[float | None, BeforeValidator(_number_or_none)]
Count = Annotated[int | None, BeforeValidator(_number_or_none)]
Timestamp = Annotated[str | None, BeforeValidator(_text_or_none)]


class WireModel(BaseModel):
    """Base of every wire model: keeps unknown fields, accepts field names or aliases."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def as_wire(self) -> dict[str, Any]:
        """The JSON-ready dict, camelCase keys, without unset optional fields."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Container(WireModel):
    entrypoint: str = ""
    image: str = ""
    tag: str = ""
    checksum: str = ""


class AlgorithmInfo(WireModel):
    """`metadata.algorithm` of a published algorithm DDO."""

    language: str | None = None
    version: str | None = None
    format: str | None = None
    container: Container = Field(default_factory=Container)
    consumerParameters: list[dict[str, Any]] | None = None


class Metadata(WireModel):
    created: str | None = None
    updated: str | None = None
    description: str | None = None
    name: str | None = None
    type: str | None = None
    author: str | None = None
    license: str | None = None
    tags: list[str] | None = None
    algorithm: AlgorithmInfo | None = None


class TrustedAlgorithm(WireModel):
    did: str | None = None
    filesChecksum: str | None = None
    containerSectionChecksum: str | None = None


class ComputeOptions(WireModel):
    """A compute service's `compute` block (reference §5.3)."""

    allowRawAlgorithm: bool = False
    allowNetworkAccess: bool = True
    publisherTrustedAlgorithms: list[TrustedAlgorithm] = Field(default_factory=list)
    publisherTrustedAlgorithmPublishers: list[str] = Field(default_factory=list)


class Service(WireModel):
    id: str
    type: str
    name: str | None = None
    description: str | None = None
    datatokenAddress: str | None = None
    serviceEndpoint: str = ""
    files: str = ""
    timeout: int = 0
    compute: ComputeOptions | None = None
    consumerParameters: list[dict[str, Any]] | None = None
    additionalInformation: dict[str, Any] | None = None


class Nft(WireModel):
    address: str | None = None
    name: str | None = None
    symbol: str | None = None
    owner: str | None = None
    state: int = 0
    created: str | None = None


class DDO(WireModel):
    """A DDO v4 document (reference §5.3)."""

    id: str
    context: list[str] = Field(
        default_factory=lambda: ["https://w3id.org/did/v1"], alias="@context"
    )
    version: str = "4.1.0"
    chainId: int | None = None
    nftAddress: str | None = None
    metadata: Metadata = Field(default_factory=Metadata)
    services: list[Service] = Field(default_factory=list)
    credentials: dict[str, Any] | None = None
    nft: Nft | None = None

    @property
    def did(self) -> str:
        return self.id

    def service(self, service_id: str) -> Service | None:
        """The service with that id, or None."""
        return next((s for s in self.services if s.id == service_id), None)


class ComputeInput:
    """A dataset or published algorithm given to a compute job (ocean.py's ComputeInput)."""

    def __init__(
        self,
        ddo: DDO,
        service: Service,
        transfer_tx_id: str | None = None,
        userdata: dict[str, Any] | None = None,
    ) -> None:
        self.ddo = ddo
        self.service = service
        self.transfer_tx_id = transfer_tx_id
        self.userdata = userdata

    @property
    def did(self) -> str:
        return self.ddo.id

    @property
    def service_id(self) -> str:
        return self.service.id

    def as_dictionary(self) -> dict[str, Any]:
        """The wire form used by initializeCompute and compute start (reference §5.1)."""
        item: dict[str, Any] = {"documentId": self.did, "serviceId": self.service_id}
        if self.transfer_tx_id:
            item["transferTxId"] = self.transfer_tx_id
        if self.userdata:
            item["userdata"] = self.userdata
        return item


class AlgorithmMetadata(WireModel):
    """A raw algorithm sent inline instead of a published one (reference §5.2)."""

    url: str = ""
    rawcode: str = ""
    language: str = ""
    format: str = ""
    version: str = ""
    container: Container = Field(default_factory=Container)
    consumerParameters: list[dict[str, Any]] | None = None

    def as_dictionary(self) -> dict[str, Any]:
        """`{"meta": {...}}` exactly as ocean.py sends it: `format` is not sent."""
        meta = self.model_dump(by_alias=True, exclude_none=True, mode="json", exclude={"format"})
        if not self.consumerParameters:
            meta.pop("consumerParameters", None)
        return {"meta": meta}


class ComputeEnvironment(WireModel):
    """A Provider v2 compute environment (reference §5.4); numbers may be strings."""

    id: str
    cpuNumber: Count = None
    cpuType: str | None = None
    gpuNumber: Count = None
    gpuType: str | None = None
    ramGB: Number = None
    diskGB: Number = None
    priceMin: Number = 0
    desc: str | None = None
    currentJobs: Count = None
    maxJobs: Count = None
    consumerAddress: str | None = None
    storageExpiry: Count = None
    maxJobDuration: Count = None
    lastSeen: Timestamp = None
    feeToken: str | None = None
    namespace: str | None = None
    status: str | None = None

    @property
    def is_free(self) -> bool:
        return (self.priceMin or 0) == 0


class ResultFile(WireModel):
    """One entry of a job's `results` (reference §7); `index` and `sha256` are our extras."""

    filename: str
    filesize: int = 0
    type: str = "output"
    index: int | None = None
    sha256: str | None = None


class JobStatus(WireModel):
    """A job as the compute status endpoint reports it (reference §6.2)."""

    jobId: str
    owner: str | None = None
    agreementId: str | None = None
    status: int = 0
    statusText: str = ""
    dateCreated: Timestamp = None
    dateFinished: Timestamp = None
    results: Annotated[list[ResultFile], BeforeValidator(_results_list)] = Field(
        default_factory=list
    )
    stopreq: int = 0
    removed: int = 0
    algoDID: str | None = None
    inputDID: list[str] = Field(default_factory=list)
    environment: str | None = None
    terminationDetails: dict[str, Any] | None = None

    @property
    def finished(self) -> bool:
        """A job is over once `dateFinished` is set (reference §6.1)."""
        return self.dateFinished is not None

    @property
    def ok(self) -> bool:
        """Not a failure code: ocean.py's 31/32 (§6.1), plus ocean-node's (§10.2)."""
        return self.status not in FAILURE_STATUSES
