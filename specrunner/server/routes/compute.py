"""Compute start, status, stop, delete and result (reference §4.6 to §4.10).

Only the job's owner sees its status details, results and logs, or stops it: another
address gets the empty list a Provider answers for a job that is not theirs.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from specrunner.ocean import signing
from specrunner.server.auth import address_field, check_signed
from specrunner.server.http import (
    json_response,
    nested,
    read_json_body,
    read_params,
    required,
    route_error,
    validation_error,
)
from specrunner.server.jobfiles import JobFolder
from specrunner.server.routes.common import context, job_json
from specrunner.server.workflow import Checker, build_workflow

START_BODY_LIMIT = 16 << 20
PARAMS_LIMIT = 1 << 20


async def start(request: Request) -> JSONResponse:
    data = await read_json_body(request, START_BODY_LIMIT)
    ctx = context(request)
    dataset = nested(data, "dataset")
    for field in ("documentId", "serviceId", "transferTxId"):
        if not dataset.get(field):
            raise required(f"dataset.{field}")
    owner = address_field(data, "consumerAddress")
    algorithm = nested(data, "algorithm")
    if not algorithm.get("documentId") and not algorithm.get("meta"):
        raise validation_error(
            {
                "algorithm.documentId": [
                    "The algorithm.documentId field is required when algorithm.meta is not present."
                ]
            }
        )
    check_signed(
        ctx.store, data, owner, signing.compute_start_message(owner, str(dataset["documentId"]))
    )
    env = ctx.config.environment(str(data.get("environment") or ""))
    if env is None:
        raise route_error("Environment invalid or does not exist")
    checker = Checker(ctx.registry, ctx.orders, env, ctx.env_address(env))
    workflow = build_workflow(checker, owner, data)
    agreement = workflow["inputs"][0]["transferTxId"]
    if ctx.store.agreement_in_use(agreement):
        raise route_error("`agreementId` already in use for other job.")
    if env.sandboxed:
        from specrunner.server.sandbox.run import check_available

        problem = check_available()
        if problem is not None:
            raise route_error(problem, status=503)
    job = ctx.engine.start(owner, agreement, env.id, workflow)
    return json_response([job_json(job)])


async def status(request: Request) -> JSONResponse:
    """Unsigned (reference §4.7): `consumerAddress` alone lists all of that owner's jobs."""
    data = await read_params(request, PARAMS_LIMIT)
    owner = data.get("consumerAddress")
    if not owner:
        raise required("consumerAddress")
    # The Provider passes only owner and jobId on (reference §4.7): `documentId` and
    # `agreementId` (ocean.js sends a DID or an order id without 0x there) never hide a job.
    jobs = context(request).store.list_jobs(str(owner), job_id=_text(data.get("jobId")))
    return json_response([job_json(job) for job in jobs])


async def stop(request: Request) -> JSONResponse:
    """Signed `consumerAddress + jobId + documentId + nonce`; ocean.js ≥ 3.3.3 signs
    `consumerAddress + jobId` alone, which is accepted too (reference §9.3)."""
    data = await read_params(request, PARAMS_LIMIT)
    ctx = context(request)
    owner = address_field(data, "consumerAddress")
    job_id = _text(data.get("jobId"))
    did = _text(data.get("documentId"))
    check_signed(
        ctx.store,
        data,
        owner,
        signing.compute_job_message(owner, job_id or "", did),
        also_accept=(f"{owner}{job_id or ''}",),
    )
    # As for status, only owner and jobId select the jobs (reference §4.8).
    jobs = ctx.store.list_jobs(owner, job_id=job_id)
    stopped = [ctx.engine.request_stop(job) if job.date_finished is None else job for job in jobs]
    return json_response([job_json(job) for job in stopped])


async def delete(request: Request) -> JSONResponse:
    """Signed like stop; as operator-service does, it deletes nothing and answers ""."""
    data = await read_params(request, PARAMS_LIMIT)
    ctx = context(request)
    owner = address_field(data, "consumerAddress")
    job_id = _text(data.get("jobId")) or ""
    check_signed(
        ctx.store,
        data,
        owner,
        signing.compute_job_message(owner, job_id, _text(data.get("documentId"))),
    )
    return json_response("")


async def result(request: Request) -> Response:
    """One result file, streamed; signed `consumerAddress + jobId + index + nonce`."""
    data = await read_params(request, PARAMS_LIMIT)
    ctx = context(request)
    job_id = _text(data.get("jobId"))
    if not job_id:
        raise required("jobId")
    index_text = _text(data.get("index"))
    if index_text is None:
        raise required("index")
    if not re.fullmatch(r"-?[0-9]{1,9}", index_text):  # ASCII digits only: "²" is a digit too
        raise validation_error({"index": ["The index must be an integer."]})
    owner = address_field(data, "consumerAddress")
    check_signed(ctx.store, data, owner, signing.compute_result_message(owner, job_id, index_text))
    job = ctx.store.get_job(job_id)
    if job is None or job.owner.lower() != owner.lower():
        raise route_error(f"Owner {owner} mismatch for job {job_id}", status=404)
    index = int(index_text)
    if index < 0:
        raise route_error(f"Negative index {index}", status=404)
    if not job.results:
        raise route_error(f"No results for job {job_id}", status=404)
    if index >= len(job.results):
        raise route_error(f"No such index {index} in this compute job", status=404)
    entry = job.results[index]
    path = JobFolder(ctx.engine.jobs_dir / job.job_id, ctx.engine.files_dir).result_path(entry)
    if not path.is_file():
        raise route_error(f"Result {index} of job {job_id} has expired", status=404)
    return FileResponse(
        path,
        headers={
            # Provider v2's exact form, the only one ocean.js's downloadFile parses (§4.10).
            "Content-Disposition": f"attachment;filename={_header_filename(entry['filename'])}",
            "Access-Control-Expose-Headers": "Content-Disposition",
        },
    )


def _header_filename(name: str) -> str:
    """The file's own name, reduced to characters a bare header parameter can carry."""
    base = name.rsplit("/", 1)[-1]
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-+") else "_" for c in base)


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


ROUTES = [
    Route("/api/services/compute", start, methods=["POST"]),
    Route("/api/services/compute", status, methods=["GET"]),
    Route("/api/services/compute", stop, methods=["PUT"]),
    Route("/api/services/compute", delete, methods=["DELETE"]),
    Route("/api/services/computeResult", result, methods=["GET"]),
]
