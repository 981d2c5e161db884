"""One exception tree for the whole tool; only the CLI maps it to exit codes.

SpecRunnerError
├── ManifestError        a manifest does not parse or validate (carries every problem)
├── LockfileError        the lockfile cannot be read, parsed or locked
├── PlanError            the specs cannot be resolved into a plan
├── WalletError          no usable key
├── SandboxError         the job sandbox cannot be built or run
├── JobFailedError       a job ran and failed, or could not start (the lock says why)
└── ProviderError        an Ocean Provider answered with an error or not at all
    └── ProviderUnreachableError
"""

from __future__ import annotations

from typing import Any


class SpecRunnerError(Exception):
    """Base of every error a user may see; `str(error)` is the one line we print."""


class ManifestError(SpecRunnerError):
    """A manifest is invalid; `problems` holds every problem found, not just the first."""

    def __init__(self, message: str, problems: list[Any] | None = None) -> None:
        super().__init__(message)
        self.problems: list[Any] = list(problems or [])


class LockfileError(SpecRunnerError):
    """The lockfile cannot be read, parsed, written or locked."""


class PlanError(SpecRunnerError):
    """Specs cannot be resolved into a plan (unknown DID, no matching environment, ...)."""


class WalletError(SpecRunnerError):
    """No usable private key, or a key stored unsafely."""


class SandboxError(SpecRunnerError):
    """The sandbox needed to run a job is unavailable or failed to start."""


class JobFailedError(SpecRunnerError):
    """The job ran and failed (or could not start); the lock says why."""


class ProviderError(SpecRunnerError):
    """An Ocean Provider refused a request.

    `status_code` is the HTTP status (None when no answer came back) and `payload` the
    decoded error body the provider sent, so callers can branch on Ocean's error codes
    (for example `{"dataset": "no_raw_algo_allowed"}`).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        payload: Any = None,
        endpoint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.payload = payload
        self.endpoint = endpoint


class ProviderUnreachableError(ProviderError):
    """No HTTP answer at all (connection refused, timeout) after the allowed retries."""
