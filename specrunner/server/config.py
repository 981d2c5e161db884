"""Provider settings and compute environments: a YAML file, or defaults sized to this machine.

A config file holds `environments:`, a list in Provider v2 field names (reference §5.4):

    chainId: 8996
    environments:
      - id: small
        priceMin: 0
        cpuNumber: 1
        ramGB: 1
        diskGB: 1
        maxJobs: 2
        maxJobDuration: 600
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from specrunner.errors import SpecRunnerError

DEFAULT_CHAIN_ID = 8996
ZERO_ADDRESS = "0x" + "0" * 40


class EnvironmentConfig(BaseModel):
    """One compute environment as configured; served with Provider v2 field names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    priceMin: float = Field(default=0, ge=0)
    feeToken: str = ZERO_ADDRESS
    cpuNumber: int = Field(default=1, ge=1)
    cpuType: str = ""
    gpuNumber: int = Field(default=0, ge=0)
    gpuType: str = ""
    ramGB: float = Field(default=1, gt=0)
    diskGB: float = Field(default=1, gt=0)
    maxJobs: int = Field(default=1, ge=1)
    maxJobDuration: int = Field(default=3600, ge=1, description="seconds")
    storageExpiry: int = Field(default=0, ge=0, description="seconds results are kept; 0 = forever")
    maxProcesses: int = Field(default=256, ge=1)
    desc: str = ""
    allowNetwork: bool = False
    # Development only: run algorithms on the host without bubblewrap; listed as such.
    sandboxed: bool = True

    @property
    def is_free(self) -> bool:
        return self.priceMin == 0


class ProviderConfig(BaseModel):
    """Settings of one embedded provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chainId: int = DEFAULT_CHAIN_ID
    # Which compute API to speak: Provider v2 (reference §1-§9) or ocean-node (§10).
    dialect: Literal["provider-v2", "ocean-node"] = "provider-v2"
    environments: list[EnvironmentConfig] = Field(min_length=1)
    # Largest JSON body accepted (publishing sends files inline, base64-encoded).
    maxRequestBytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    # How long a free order from initializeCompute may be used when the service has no timeout.
    orderTimeout: int = Field(default=24 * 3600, ge=1)

    @field_validator("environments")
    @classmethod
    def _unique_ids(cls, value: list[EnvironmentConfig]) -> list[EnvironmentConfig]:
        ids = [env.id for env in value]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate environment id: {', '.join(duplicates)}")
        return value

    def environment(self, env_id: str) -> EnvironmentConfig | None:
        return next((env for env in self.environments if env.id == env_id), None)


def default_environment(data_dir: Path) -> EnvironmentConfig:
    """One free environment sized to this machine."""
    cpus = os.cpu_count() or 1
    ram_gb = _total_memory_gb()
    disk_gb = max(1.0, round(shutil.disk_usage(data_dir).free / 2**30 / 2, 1))
    return EnvironmentConfig(
        id="specrunner-free",
        cpuNumber=cpus,
        ramGB=ram_gb,
        diskGB=min(disk_gb, 64.0),
        maxJobs=cpus,
        maxJobDuration=3600,
        desc="Free local environment of the embedded specrunner provider",
    )


def _total_memory_gb() -> float:
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 1.0
    # Half the machine: an algorithm must never starve the provider itself.
    return max(0.25, round(pages / 2**30 / 2, 1))


def load_config(path: Path | None, data_dir: Path, dialect: str | None = None) -> ProviderConfig:
    """The provider config from a YAML file, or the default; `dialect` overrides the
    file's. Raises SpecRunnerError."""
    config = _load(path, data_dir)
    return config if dialect is None else config.model_copy(update={"dialect": dialect})


def _load(path: Path | None, data_dir: Path) -> ProviderConfig:
    if path is None:
        return ProviderConfig(environments=[default_environment(data_dir)])
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecRunnerError(f"{path}: cannot read provider config: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise SpecRunnerError(f"{path}{where}: provider config is not valid YAML") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise SpecRunnerError(f"{path}: provider config must be a mapping with `environments:`")
    if "environments" not in raw:
        raw = {**raw, "environments": [default_environment(data_dir).model_dump()]}
    try:
        return ProviderConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SpecRunnerError(
            f"{path}: provider config: {where}: {first['msg']}"
            + (f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else "")
        ) from exc
