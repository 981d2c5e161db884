"""The ocean-node dialect of the compute API (reference §10.2, §10.3), on the same engine.

Served instead of Provider v2's compute routes by `provider serve --dialect ocean-node`:
the two dialects share paths with different signatures and shapes, so one provider
speaks one of them. Aquarius and publishing stay the same.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from specrunner.ocean import node
from specrunner.server import node_shapes
from specrunner.server.context import PROVIDER_VERSION
from specrunner.server.http import RequestError, read_json_body, read_params
from specrunner.server.node_auth import check_node_signed, consumer, node_error
from specrunner.server.routes.common import context
from specrunner.server.store import JobRecord
from specrunner.server.workflow import Checker, build_workflow

BODY_LIMIT = 16 << 20
SERVICE_ENDPOINTS = {
    "computeEnvironments": ["GET", "/api/services/computeEnvironments"],
    "computeStart": ["POST", "/api/services/compute"],
    "freeCompute": ["POST", "/api/services/freeCompute"],
    "computeStatus": ["GET", "/api/services/compute"],
    "computeStop": ["PUT", "/api/services/compute"],
    "computeDelete": ["DELETE", "/api/services/compute"],
    "computeResult": ["GET", "/api/services/computeResult"],
    "computeStreamableLogs": ["GET", "/api/services/computeStreamableLogs"],
    "nonce": ["GET", "/api/services/nonce"],
    "publish": ["POST", "/api/services/publish"],
}


async def root(request: Request) -> JSONResponse:
    ctx = context(request)
    return JSONResponse(
        {
            "nodeId": ctx.signer.address,
            "chainIds": [str(ctx.config.chainId)],
            "providerAddress": ctx.signer.address,
            "serviceEndpoints": SERVICE_ENDPOINTS,
            "software": "Ocean-Node",
            "version": PROVIDER_VERSION,
            "specrunner": True,
        }
    )


async def nonce(request: Request) -> JSONResponse:
    data = await read_params(request, BODY_LIMIT)
    address = data.get("userAddress")
    if not address:
        raise node_error(400, "Missing userAddress")
    return JSONResponse({"nonce": context(request).store.get_nonce(str(address)) or "0"})


async def environments(request: Request) -> JSONResponse:
    ctx = context(request)
    return JSONResponse([node_shapes.environment(ctx, env) for env in ctx.config.environments])


async def free_start(request: Request) -> JSONResponse:
    """`POST freeCompute`: signed `consumerAddress + nonce + freeStartCompute` (§10.3)."""
    data = await read_json_body(request, BODY_LIMIT)
    ctx = context(request)
    owner = consumer(data)
    check_node_signed(ctx.store, data, owner, node.FREE_START)
    env = ctx.config.environment(str(data.get("environment") or ""))
    if env is None:
        raise node_error(400, "Invalid environment")
    if not env.is_free:
        raise node_error(400, f"Environment {env.id} has no free tier")
    workflow = _workflow(request, data, owner, env.id)
    job = ctx.engine.start(owner, "", env.id, workflow)
    return JSONResponse([node_shapes.job(job, ctx.engine.jobs_dir)])


def _workflow(request: Request, data: dict[str, Any], owner: str, env_id: str) -> dict[str, Any]:
    ctx = context(request)
    env = ctx.config.environment(env_id)
    assert env is not None
    datasets = data.get("datasets") or ([data["dataset"]] if data.get("dataset") else [])
    if not isinstance(datasets, list) or not datasets:
        raise node_error(400, "Missing datasets")
    duration = data.get("maxJobDuration")
    if duration is not None and (
        isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or not 0 < duration <= env.maxJobDuration
    ):
        raise node_error(400, f"maxJobDuration must be between 1 and {env.maxJobDuration}")
    checker = Checker(ctx.registry, ctx.orders, env, ctx.env_address(env), require_orders=False)
    request_v2 = {
        "dataset": datasets[0],
        "additionalDatasets": datasets[1:],
        "algorithm": data.get("algorithm"),
    }
    try:
        workflow = build_workflow(checker, owner, request_v2)
    except RequestError as exc:
        raise node_error(400, _describe(exc.body)) from exc
    metadata = data.get("metadata")
    return {
        **workflow,
        "metadata": metadata if isinstance(metadata, dict) else {},
        "maxJobDuration": duration,
        "resources": data.get("resources") or [],
        "queueMaxWaitTime": data.get("queueMaxWaitTime") or 0,
    }


async def paid_start(request: Request) -> Response:
    """Paid starts lock escrow funds on chain (§10.2); there is no chain here."""
    raise node_error(
        400,
        "Paid compute needs on-chain escrow, which this node does not have: "
        "use /api/services/freeCompute with a free environment",
    )


async def status(request: Request) -> JSONResponse:
    """Unsigned: the owner's jobs, narrowed to `jobId` (bare or `<hash>-<id>`, §10.3)."""
    data = await read_params(request, BODY_LIMIT)
    owner = data.get("consumerAddress")
    if not owner:
        raise node_error(400, "Missing consumerAddress")
    ctx = context(request)
    jobs = ctx.store.list_jobs(str(owner), job_id=_job_id(data))
    # Off the event loop: a finished job's outputs.tar is built on first sight.
    shown = await run_in_threadpool(lambda: [node_shapes.job(j, ctx.engine.jobs_dir) for j in jobs])
    return JSONResponse(shown)


async def stop(request: Request) -> JSONResponse:
    """Signed `consumerAddress + nonce + stopCompute`, fields in the query string (§10.2)."""
    data = await read_params(request, BODY_LIMIT)
    ctx = context(request)
    owner = consumer(data)
    check_node_signed(ctx.store, data, owner, node.STOP)
    jobs = ctx.store.list_jobs(owner, job_id=_job_id(data)) if _job_id(data) else []
    stopped = [ctx.engine.request_stop(job) if job.date_finished is None else job for job in jobs]
    return JSONResponse([node_shapes.job(job, ctx.engine.jobs_dir) for job in stopped])


async def delete(request: Request) -> Response:
    return PlainTextResponse("Not yet implemented!", status_code=404)


async def result(request: Request) -> Response:
    """Signed `consumerAddress + nonce + getComputeResult`; only the owner gets the bytes."""
    data = await read_params(request, BODY_LIMIT)
    ctx = context(request)
    owner = consumer(data)
    check_node_signed(ctx.store, data, owner, node.GET_RESULT)
    job = _owned_job(request, data, owner)
    index = str(data.get("index", ""))
    if not re.fullmatch(r"[0-9]{1,9}", index):  # ASCII digits only: "²" is a digit too
        raise node_error(400, "Invalid index")
    path = await run_in_threadpool(node_shapes.result_file, job, ctx.engine.jobs_dir, int(index))
    if path is None or not path.is_file():
        raise node_error(404, f"No result {index} for job {job.job_id}")
    return FileResponse(
        path,
        headers={
            "Content-Disposition": f"attachment;filename={path.name}",
            "Access-Control-Expose-Headers": "Content-Disposition",
        },
    )


async def streamable_logs(request: Request) -> Response:
    """The algorithm's log while it runs (status 40), streamed as it grows (§10.3)."""
    data = await read_params(request, BODY_LIMIT)
    ctx = context(request)
    owner = consumer(data)
    check_node_signed(ctx.store, data, owner, "getComputeStreamableLogs")
    job = _owned_job(request, data, owner)
    handle = None
    if job.date_finished is None and job.status == 40:
        handle = _open_regular(node_shapes.live_log(job, ctx.engine.jobs_dir))
    if handle is None:
        return PlainTextResponse("Job not found or not running", status_code=404)
    return StreamingResponse(_follow(request, job.job_id, handle), media_type="text/plain")


def _open_regular(path: Path) -> Any:
    """The file for reading only if it is a regular file *itself*: the algorithm owns its
    logs folder and could have put a link to the provider's key there."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


async def _follow(request: Request, job_id: str, handle: Any) -> AsyncIterator[bytes]:
    """Send what the log holds, then what it gains, until the job ends."""
    store = context(request).store
    try:
        while True:
            chunk = handle.read(1 << 16)
            if chunk:
                yield chunk
                continue
            job = store.get_job(job_id)
            if job is None or job.date_finished is not None:
                # The algorithm stopped writing before the job ended: drain what is left.
                rest = handle.read()
                if rest:
                    yield rest
                return
            await asyncio.sleep(0.2)
    finally:
        handle.close()


def _owned_job(request: Request, data: dict[str, Any], owner: str) -> JobRecord:
    job_id = _job_id(data)
    found = context(request).store.list_jobs(owner, job_id=job_id) if job_id else []
    if not found:
        raise node_error(404, "Job not found")
    return found[0]


def _job_id(data: dict[str, Any]) -> str | None:
    """ocean-node answers `<hash>-<id>` on start and the bare id elsewhere: accept both."""
    value = data.get("jobId")
    if not value:
        return None
    return str(value).rsplit("-", 1)[-1]


def _describe(body: Any) -> str:
    error = body.get("error", body.get("errors", body)) if isinstance(body, dict) else body
    if isinstance(error, dict):
        return ", ".join(f"{key}: {value}" for key, value in error.items())
    return str(error)


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/api/services/nonce", nonce, methods=["GET"]),
    Route("/api/services/computeEnvironments", environments, methods=["GET"]),
    Route("/api/services/freeCompute", free_start, methods=["POST"]),
    Route("/api/services/compute", paid_start, methods=["POST"]),
    Route("/api/services/compute", status, methods=["GET"]),
    Route("/api/services/compute", stop, methods=["PUT"]),
    Route("/api/services/compute", delete, methods=["DELETE"]),
    Route("/api/services/computeResult", result, methods=["GET"]),
    Route("/api/services/computeStreamableLogs", streamable_logs, methods=["GET"]),
]
