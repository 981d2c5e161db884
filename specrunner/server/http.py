"""Request parsing and the error bodies of Provider v2 (reference §1.1).

Every refusal is a `RequestError` carrying its HTTP status and JSON body; the app turns it
into a response. Nothing a client sends can make a handler answer 500.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse


class RequestError(Exception):
    """A refused request: `status` and the JSON `body` to answer with."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def validation_error(errors: dict[str, Any]) -> RequestError:
    """flask-sieve's shape: `{"message", "errors": {field: [text]}, "success": false}`."""
    return RequestError(400, {"message": "Validation error", "errors": errors, "success": False})


def route_error(error: Any, status: int = 400) -> RequestError:
    """A route's own refusal: `{"error": <text or object>}`."""
    return RequestError(status, {"error": error})


def required(field: str) -> RequestError:
    return validation_error({field: [f"The {field} field is required."]})


def json_response(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def read_json_body(request: Request, limit: int) -> dict[str, Any]:
    """The JSON object in the body; a refusal if it is missing, too large or not an object."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise route_error(f"request body larger than {limit} bytes", status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise route_error(f"request body larger than {limit} bytes", status=413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise route_error("request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise route_error("request body must be a JSON object")
    return value


async def read_params(request: Request, limit: int) -> dict[str, Any]:
    """Provider v2 reads the query string when it is not empty, else the JSON body (§1)."""
    if request.query_params:
        return dict(request.query_params)
    return await read_json_body(request, limit)


def nested(data: dict[str, Any], name: str) -> dict[str, Any]:
    """A sub-object such as `dataset` or `algorithm`; `{}` when absent."""
    value = data.get(name)
    if value is None:
        return {}
    if isinstance(value, str):
        # ocean.js may send nested objects JSON-encoded in the query string.
        try:
            value = json.loads(value)
        except ValueError:
            raise validation_error({name: [f"The {name} must be an object."]}) from None
    if not isinstance(value, dict):
        raise validation_error({name: [f"The {name} must be an object."]})
    return value
