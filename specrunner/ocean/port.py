"""`ComputeProvider`: the part of a provider client that running a job needs.

The executor and `JobRun` type against this Protocol, not against `DataServiceProvider`, so
a test can hand them a provider built from data (pip-tools' `BaseRepository` and its
`FakeRepository`). `DataServiceProvider` satisfies it as it is; mypy checks that wherever
one is passed to the executor. The signatures are `DataServiceProvider`'s own, and so is the
contract of each method (see its docstring there): errors are `ProviderError`, and
`ProviderUnreachableError` when no answer came back.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from specrunner.ocean.models import AlgorithmMetadata, ComputeInput, JobStatus
from specrunner.ocean.signing import Signer
from specrunner.ocean.transport import Download

__all__ = ["ComputeProvider"]


class ComputeProvider(Protocol):
    """Order, start, follow, stop and download one owner's compute jobs at a provider."""

    def initialize_compute(
        self,
        service_endpoint: str,
        datasets: Sequence[ComputeInput],
        algorithm: ComputeInput | AlgorithmMetadata,
        compute_environment: str,
        valid_until: int,
        consumer_address: str,
    ) -> dict[str, Any]:
        """Per input a `validOrder` and/or a `providerFee` (reference §4.5)."""
        ...

    def start_compute(
        self, service_endpoint: str, consumer_wallet: Signer, payload: dict[str, Any]
    ) -> JobStatus:
        """The started job. Never resent once it may have arrived (§4.6, §10.3)."""
        ...

    def compute_status(
        self, service_endpoint: str, consumer_address: str, job_id: str | None = None
    ) -> list[JobStatus]:
        """The owner's jobs, or just `job_id`; `[]` for a job that is not theirs (§4.7)."""
        ...

    def stop_compute(
        self, service_endpoint: str, wallet: Signer, job_id: str, did: str
    ) -> list[JobStatus]:
        """Ask the provider to stop a job (§4.8)."""
        ...

    def compute_result_urls(
        self, service_endpoint: str, wallet: Signer, job_id: str, indexes: Sequence[int]
    ) -> list[str]:
        """One signed, single-use result URL per index, to fetch in order (§4.10)."""
        ...

    def download_to(self, url: str, path: Path | str) -> Download:
        """A result URL streamed into `path` atomically: nothing is left on failure."""
        ...
