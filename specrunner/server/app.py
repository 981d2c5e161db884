"""`create_app`: the embedded provider's ASGI application."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from specrunner.server.context import ProviderContext
from specrunner.server.http import RequestError
from specrunner.server.routes import assets, compute, discovery, node, services

log = logging.getLogger("specrunner.provider")


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return JSONResponse(exc.body, status_code=exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The Provider answers unhandled exceptions with 503 and a JSON body (reference §1.1).
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "internal provider error"}, status_code=503)


def create_app(ctx: ProviderContext) -> Starlette:
    """The route table of reference §4 (or §10 for the ocean-node dialect) plus Aquarius
    and publishing, bound to `ctx`."""
    if ctx.config.dialect == "ocean-node":
        routes = [*node.ROUTES, *assets.ROUTES]
    else:
        routes = [*discovery.ROUTES, *services.ROUTES, *compute.ROUTES, *assets.ROUTES]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["Content-Disposition"],
            )
        ],
        exception_handlers={
            RequestError: _refused,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.context = ctx
    return app
