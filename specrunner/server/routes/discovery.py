"""`GET /` (endpoint discovery, reference §2) and `GET /spec` (OpenAPI)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from specrunner.server.context import PROVIDER_VERSION
from specrunner.server.openapi import openapi_document
from specrunner.server.routes.common import context, origin

SERVICE_ENDPOINTS = {
    "computeDelete": ["DELETE", "/api/services/compute"],
    "computeEnvironments": ["GET", "/api/services/computeEnvironments"],
    "computeResult": ["GET", "/api/services/computeResult"],
    "computeStart": ["POST", "/api/services/compute"],
    "computeStatus": ["GET", "/api/services/compute"],
    "computeStop": ["PUT", "/api/services/compute"],
    "fileinfo": ["POST", "/api/services/fileinfo"],
    "initialize": ["GET", "/api/services/initialize"],
    "initializeCompute": ["POST", "/api/services/initializeCompute"],
    "nonce": ["GET", "/api/services/nonce"],
    "publish": ["POST", "/api/services/publish"],
    "validateContainer": ["POST", "/api/services/validateContainer"],
}


async def root(request: Request) -> JSONResponse:
    ctx = context(request)
    chain = ctx.config.chainId
    return JSONResponse(
        {
            "chainIds": [chain],
            "providerAddresses": {str(chain): ctx.signer.address},
            "providerAddress": ctx.signer.address,
            "serviceEndpoints": SERVICE_ENDPOINTS,
            "software": "Provider",
            "version": PROVIDER_VERSION,
            "specrunner": True,
        }
    )


async def spec(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(origin(request)))


ROUTES = [
    Route("/", root, methods=["GET"]),
    Route("/spec", spec, methods=["GET"]),
]
