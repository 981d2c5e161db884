"""The Aquarius-compatible DDO store and our publish extension."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from specrunner.ocean import signing
from specrunner.server.assets import render_ddo
from specrunner.server.auth import address_field, check_signed
from specrunner.server.http import json_response, read_json_body, route_error
from specrunner.server.node_auth import check_publish_signed
from specrunner.server.routes.common import context, origin


async def ddo(request: Request) -> JSONResponse:
    """`GET /api/aquarius/assets/ddo/{did}` as Aquarius answers it (reference §4.12)."""
    did = request.path_params["did"]
    asset = context(request).registry.resolve(did)
    if asset is None:
        raise route_error(f"Asset DID {did} not found in Elasticsearch.", status=404)
    return json_response(render_ddo(asset.ddo, origin(request)))


async def publish(request: Request) -> JSONResponse:
    """Register files as a DDO v4 asset; signed `publisherAddress + digest + nonce`."""
    ctx = context(request)
    body = await read_json_body(request, ctx.config.maxRequestBytes)
    publisher = address_field(body, "publisherAddress")
    digest = await run_in_threadpool(signing.publish_digest, body)
    message = signing.publish_message(publisher, digest)
    if ctx.config.dialect == "ocean-node":
        check_publish_signed(ctx.store, body, publisher, message)
    else:
        check_signed(ctx.store, body, publisher, message)
    asset = await run_in_threadpool(ctx.registry.publish, publisher, body)
    return json_response(render_ddo(asset.ddo, origin(request)))


ROUTES = [
    Route("/api/aquarius/assets/ddo/{did:path}", ddo, methods=["GET"]),
    Route("/api/services/publish", publish, methods=["POST"]),
]
