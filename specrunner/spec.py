"""Frozen models of a validated manifest, and its digest.

`manifest.loader` builds these after the JSON Schema (`schemas/job.schema.json`, the public
contract) has accepted a document, so the validators here are a second line of defence, not
the place users' mistakes are reported. Attribute names are snake_case; the aliases are the
manifest's camelCase keys.

Fields marked `exclude=True` (`source`, resolved absolute paths) describe where a spec came
from on this machine, not what it asks for: they stay out of dumps and of `spec_digest()`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DURATION_FORMS = "seconds as a number, or 90s, 10m, 2h, 1h30m"
_INSIDE_WORKDIR = re.compile(r"(?!/)(?!\.?/*$)(?!(.*/)?\.\.(/|$))(?!\.git(/|$)).+")
_ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_duration(value: object) -> int:
    """Seconds in `value`: a positive int, or a string such as "90s", "10m", "2h", "1h30m".

    Raises ValueError (naming the accepted forms) for anything else, including zero.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        hours, minutes, secs = (int(group or 0) for group in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    else:
        raise ValueError(f"not a duration: {value!r} (use {DURATION_FORMS})")
    if seconds <= 0:
        raise ValueError(f"a duration must be longer than 0s, got {value!r}")
    return seconds


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Source(_Frozen):
    """Where a spec was read: the path as the user gave it, for messages."""

    file: str
    document: int = Field(ge=0, description="0-based index of the document in the file")
    line: int = Field(ge=1, description="1-based line where the document starts")

    def describe(self) -> str:
        return f"{self.file}:{self.line}"


class Metadata(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=128)
    labels: dict[str, str] = Field(default_factory=dict)


class ProviderSpec(_Frozen):
    url: str
    chain_id: int | None = Field(default=None, alias="chainId", ge=1)
    metadata_cache_url: str | None = Field(default=None, alias="metadataCacheUrl")


class Wallet(_Frozen):
    """A private key by reference only: the secret itself never enters a spec or a digest."""

    private_key: str = Field(alias="privateKey", pattern=_ENV_REFERENCE.pattern)

    @property
    def env_var(self) -> str:
        """The environment variable holding the key."""
        match = _ENV_REFERENCE.fullmatch(self.private_key)
        assert match is not None  # guaranteed by the field pattern
        return match.group(1)


class PublishedDataset(_Frozen):
    did: str = Field(pattern=r"^did:op:[0-9a-fA-F]{64}$")
    service_id: str = Field(alias="serviceId")
    transfer_tx_id: str | None = Field(default=None, alias="transferTxId")
    userdata: dict[str, Any] | None = None


class LocalDataset(_Frozen):
    """Local files published to the provider; `files` are absolute, sorted, never empty."""

    path: str
    files: tuple[Path, ...] = Field(default=(), exclude=True)
    userdata: dict[str, Any] | None = None


DatasetSpec = PublishedDataset | LocalDataset


class Container(_Frozen):
    entrypoint: str
    image: str
    tag: str
    checksum: str | None = None


class PublishedAlgorithm(_Frozen):
    did: str = Field(pattern=r"^did:op:[0-9a-fA-F]{64}$")
    service_id: str = Field(alias="serviceId")
    custom_data: dict[str, Any] | None = Field(default=None, alias="customData")


class RawAlgorithm(_Frozen):
    """Code sent with the job: inline `rawcode`, or a `file` (`file_path` is its absolute path)."""

    rawcode: str | None = None
    file: str | None = None
    file_path: Path | None = Field(default=None, exclude=True)
    language: str | None = None
    container: Container
    custom_data: dict[str, Any] | None = Field(default=None, alias="customData")

    @model_validator(mode="after")
    def _one_source(self) -> RawAlgorithm:
        if (self.rawcode is None) == (self.file is None):
            raise ValueError("a raw algorithm needs exactly one of rawcode or file")
        return self


AlgorithmSpec = PublishedAlgorithm | RawAlgorithm


class ResourceRequest(_Frozen):
    """An amount of one resource: cpu, ram (GB), disk (GB), or a GPU by its id."""

    id: str = Field(min_length=1)
    amount: float = Field(gt=0)


class EnvironmentSpec(_Frozen):
    """An explicit environment `id`, or selectors; empty means "any, cheapest first"."""

    id: str | None = None
    free: bool | None = None
    min_cpu: int | None = Field(default=None, alias="minCpu", ge=0)
    min_ram_gb: float | None = Field(default=None, alias="minRamGB", ge=0)
    min_disk_gb: float | None = Field(default=None, alias="minDiskGB", ge=0)
    min_gpu: int | None = Field(default=None, alias="minGpu", ge=0)
    max_price_min: float | None = Field(default=None, alias="maxPriceMin", ge=0)
    fee_token: str | None = Field(default=None, alias="feeToken")
    resources: tuple[ResourceRequest, ...] = ()

    @model_validator(mode="after")
    def _id_or_selectors(self) -> EnvironmentSpec:
        # Resources are a request, not a selector: they go with an id too.
        selectors = self.model_dump(exclude={"id", "resources"}, exclude_none=True)
        if self.id is not None and selectors:
            raise ValueError("an environment id cannot be combined with selectors")
        return self


class Policy(_Frozen):
    timeout: int | None = Field(default=None, description="seconds")
    max_job_duration: int | None = Field(default=None, alias="maxJobDuration")
    queue_max_wait_time: int | None = Field(default=None, alias="queueMaxWaitTime")
    retries: int = Field(default=0, ge=0, le=10)

    @field_validator("timeout", "max_job_duration", "queue_max_wait_time", mode="before")
    @classmethod
    def _parse_timeout(cls, value: object) -> int | None:
        return None if value is None else parse_duration(value)


class Outputs(_Frozen):
    """Where results go: a folder under the working directory (beside the lockfile), never
    the working directory itself or anything outside it; outputs in `<dir>/outputs`, logs
    in `<dir>/logs`."""

    dir: str

    @field_validator("dir")
    @classmethod
    def _inside(cls, value: str) -> str:
        # The same rule as the schema's pattern (pydantic's regex engine has no look-ahead).
        if not _INSIDE_WORKDIR.fullmatch(value):
            raise ValueError("outputs.dir must be a folder inside the working directory")
        return value


class Spec(_Frozen):
    """One validated ComputeJob manifest."""

    api_version: Literal["specrunner/v1"] = Field(alias="apiVersion")
    kind: Literal["ComputeJob"]
    metadata: Metadata
    provider: ProviderSpec | None = None
    wallet: Wallet | None = None
    datasets: tuple[DatasetSpec, ...] = Field(min_length=1)
    algorithm: AlgorithmSpec
    environment: EnvironmentSpec = Field(default_factory=EnvironmentSpec)
    policy: Policy = Field(default_factory=Policy)
    outputs: Outputs
    source: Source | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _default_outputs(cls, data: Any) -> Any:
        # The default depends on the name, so it cannot be a plain field default.
        if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
            outputs = data.get("outputs") or {}
            if isinstance(outputs, dict) and "dir" not in outputs:
                name = data["metadata"].get("name")
                data = {**data, "outputs": {**outputs, "dir": f"results/{name}"}}
        return data

    @property
    def name(self) -> str:
        return self.metadata.name

    def spec_digest(self) -> str:
        """ "sha256:<hex>" of the canonical JSON of what the spec asks for.

        Stable across runs, machines and formatting: keys sorted, durations in seconds,
        defaults filled in; the source location and resolved absolute paths are left out.
        """
        body = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


__all__ = [
    "DURATION_FORMS",
    "AlgorithmSpec",
    "Container",
    "DatasetSpec",
    "EnvironmentSpec",
    "LocalDataset",
    "Metadata",
    "Outputs",
    "Policy",
    "ProviderSpec",
    "PublishedAlgorithm",
    "PublishedDataset",
    "RawAlgorithm",
    "ResourceRequest",
    "Source",
    "Spec",
    "Wallet",
    "parse_duration",
]
