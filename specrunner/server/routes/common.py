"""Helpers shared by the endpoint modules."""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import Request

from specrunner.server.context import ProviderContext
from specrunner.server.store import JobRecord


def context(request: Request) -> ProviderContext:
    return cast(ProviderContext, request.app.state.context)


def origin(request: Request) -> str:
    """The URL the client reached us at, without a trailing slash."""
    return str(request.base_url).rstrip("/")


def epoch_text(value: float | None) -> str | None:
    """operator-service sends timestamps as strings of epoch seconds (reference §6.2)."""
    return None if value is None else f"{value:.6f}"


def job_json(job: JobRecord) -> dict[str, Any]:
    """A job as Provider v2 status, stop and start report it (reference §6.2) plus our extras."""
    return {
        "agreementId": job.agreement_id,
        "jobId": job.job_id,
        "owner": job.owner,
        "status": job.status,
        "statusText": job.status_text,
        "dateCreated": epoch_text(job.date_created),
        "dateFinished": epoch_text(job.date_finished),
        "results": job.results,
        "stopreq": job.stopreq,
        "removed": job.removed,
        "algoDID": job.algo_did,
        "inputDID": job.input_dids,
        "environment": job.environment,
        "terminationDetails": job.termination,
    }
