"""nonce, fileinfo, computeEnvironments, initialize, initializeCompute, validateContainer."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from specrunner.server.auth import FIRST_NONCE
from specrunner.server.config import EnvironmentConfig
from specrunner.server.context import ProviderContext
from specrunner.server.http import (
    RequestError,
    json_response,
    nested,
    read_json_body,
    read_params,
    required,
    route_error,
    validation_error,
)
from specrunner.server.routes.common import context
from specrunner.server.store import Asset

BODY_LIMIT = 1 << 20


async def nonce(request: Request) -> JSONResponse:
    data = await read_params(request, BODY_LIMIT)
    address = data.get("userAddress")
    if not address:
        raise required("userAddress")
    stored = context(request).store.get_nonce(str(address))
    # A string, as Flask serialises the Provider's Decimal (reference §3.3).
    return json_response({"nonce": stored if stored is not None else str(FIRST_NONCE)})


async def fileinfo(request: Request) -> JSONResponse:
    """`{did, serviceId}` → one entry per file of the service (reference §4.3)."""
    data = await read_json_body(request, BODY_LIMIT)
    ctx = context(request)
    did = data.get("did")
    if not did:
        if data.get("type"):
            raise route_error("Only published assets (did and serviceId) can be checked here.")
        raise required("did")
    asset = ctx.registry.resolve(str(did))
    if asset is None:
        raise route_error("Cannot resolve DID")
    service = _service(asset, data.get("serviceId"))
    if service is None:
        raise route_error(f"Provider {ctx.config.chainId}: Invalid serviceId.")
    files = ctx.registry.service_files(asset, service)
    if files is None:
        raise route_error(f"Provider {ctx.config.chainId}: Unable to get dataset files")
    with_checksum = bool(data.get("checksum"))
    entries = []
    for index, stored in enumerate(files):
        entry: dict[str, Any] = {
            "index": index,
            "valid": (ctx.registry.file_path(stored)).is_file(),
            "type": "specrunner",
            "contentLength": str(stored.size),
            "contentType": stored.content_type,
            "filename": stored.filename,
        }
        if with_checksum:
            entry.update(checksum=stored.sha256, checksumType="sha256")
        entries.append(entry)
    return json_response(entries)


async def compute_environments(request: Request) -> JSONResponse:
    """A dict keyed by chain id as a string (reference §4.4); `chainId` is ignored."""
    ctx = context(request)
    envs = [environment_json(ctx, env) for env in ctx.config.environments]
    return json_response({str(ctx.config.chainId): envs})


def environment_json(ctx: ProviderContext, env: EnvironmentConfig) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": env.id,
        "cpuNumber": env.cpuNumber,
        "cpuType": env.cpuType,
        "gpuNumber": env.gpuNumber,
        "gpuType": env.gpuType,
        "ramGB": env.ramGB,
        "diskGB": env.diskGB,
        "priceMin": env.priceMin,
        "desc": env.desc,
        "currentJobs": ctx.store.count_running(env.id),
        "maxJobs": env.maxJobs,
        "consumerAddress": ctx.env_address(env),
        "storageExpiry": env.storageExpiry,
        "maxJobDuration": env.maxJobDuration,
        "lastSeen": f"{time.time():.6f}",
        "feeToken": env.feeToken,
        "namespace": env.id,
        "status": "running",
        "allowNetwork": env.allowNetwork,
        "sandboxed": env.sandboxed,
    }
    if not env.sandboxed:
        body["desc"] = (env.desc + " " if env.desc else "") + "[UNSANDBOXED: development only]"
    return body


async def initialize(request: Request) -> JSONResponse:
    """Access services are not offered; compute services use initializeCompute (§4.12)."""
    raise route_error(
        f"Provider {context(request).config.chainId}: Use the initializeCompute endpoint "
        "to initialize compute jobs."
    )


async def initialize_compute(request: Request) -> JSONResponse:
    """Quote and order each input (reference §4.5); free environments get a `validOrder`."""
    data = await read_json_body(request, BODY_LIMIT)
    ctx = context(request)
    datasets, compute, consumer = _initialize_fields(data)
    valid_until = compute["validUntil"]
    if valid_until <= time.time():
        raise route_error("The validUntil value is not correct.")
    env = ctx.config.environment(str(compute["env"]))
    if env is None:
        raise route_error("Compute environment does not exist")
    algorithm = nested(data, "algorithm")
    answer: dict[str, Any] = {"datasets": []}
    if algorithm.get("documentId"):
        algo_asset = ctx.registry.resolve(str(algorithm["documentId"]))
        if algo_asset is None or algo_asset.ddo.get("metadata", {}).get("type") != "algorithm":
            raise route_error("DID is not a valid algorithm")
        answer["algorithm"] = _quote(
            ctx, env, consumer, algo_asset, algorithm, "algorithm", valid_until
        )
    for index, item in enumerate(datasets):
        resource = "dataset" if index == 0 else f"datasets[{index}]"
        asset = ctx.registry.resolve(str(item.get("documentId", "")))
        if asset is None:
            raise route_error({f"{resource}.documentId": "did_not_found"})
        answer["datasets"].append(_quote(ctx, env, consumer, asset, item, resource, valid_until))
    return json_response(answer)


def _initialize_fields(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    datasets = data.get("datasets")
    if not datasets:
        raise required("datasets")
    if not isinstance(datasets, list) or not all(isinstance(d, dict) for d in datasets):
        raise validation_error({"datasets": ["The datasets must be a list of objects."]})
    compute = nested(data, "compute")
    if not compute.get("env"):
        raise required("compute.env")
    valid_until = compute.get("validUntil")
    if valid_until is None:
        raise required("compute.validUntil")
    if isinstance(valid_until, bool) or not isinstance(valid_until, int | float | str):
        raise validation_error(
            {"compute.validUntil": ["The compute.validUntil must be an integer."]}
        )
    try:
        compute = {**compute, "validUntil": int(float(valid_until))}
    except (ValueError, OverflowError):  # "abc", and "inf" or "1e400"
        raise validation_error(
            {"compute.validUntil": ["The compute.validUntil must be an integer."]}
        ) from None
    consumer = data.get("consumerAddress")
    if not consumer:
        raise required("consumerAddress")
    return datasets, compute, str(consumer)


def _quote(
    ctx: ProviderContext,
    env: EnvironmentConfig,
    consumer: str,
    asset: Asset,
    item: dict[str, Any],
    resource: str,
    valid_until: int,
) -> dict[str, Any]:
    service = _service(asset, item.get("serviceId"))
    if service is None:
        raise route_error({f"{resource}.serviceId": "not_found"})
    datatoken = service.get("datatokenAddress", "")
    consumers = (consumer, ctx.env_address(env))
    reusable = ctx.orders.find_valid(
        item.get("transferTxId"),
        did=asset.did,
        service_id=str(service["id"]),
        environment=env.id,
        consumers=consumers,
    )
    if reusable is not None:
        return {"validOrder": reusable.order_id}
    if not env.is_free:
        fee = ctx.orders.provider_fee(env, datatoken, str(service["id"]), valid_until)
        return {"datatoken": datatoken, "providerFee": fee}
    order = ctx.orders.issue(consumer, asset, service, env.id)
    return {"datatoken": datatoken, "validOrder": order.order_id}


async def validate_container(request: Request) -> JSONResponse:
    data = await read_json_body(request, BODY_LIMIT)
    if not all(data.get(key) for key in ("entrypoint", "image", "checksum")):
        raise route_error("missing_entrypoint_image_checksum")
    if not str(data["checksum"]).startswith("sha256:"):
        raise route_error("checksum_prefix")
    return json_response(data)


def _service(asset: Asset, service_id: Any) -> dict[str, Any] | None:
    if service_id is None:
        return None
    return next(
        (s for s in asset.ddo.get("services", []) if str(s.get("id")) == str(service_id)), None
    )


ROUTES = [
    Route("/api/services/nonce", nonce, methods=["GET"]),
    Route("/api/services/fileinfo", fileinfo, methods=["POST"]),
    Route("/api/services/computeEnvironments", compute_environments, methods=["GET"]),
    Route("/api/services/initialize", initialize, methods=["GET"]),
    Route("/api/services/initializeCompute", initialize_compute, methods=["POST"]),
    Route("/api/services/validateContainer", validate_container, methods=["POST"]),
]

__all__ = ["ROUTES", "RequestError", "environment_json"]
