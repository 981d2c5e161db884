"""Provider v2 answers read as data: the root document (§2) and error bodies (§1.1).

No I/O here: `transport` sends requests and `provider` names the endpoints; this module
says what a root URL, an endpoint table, a JSON answer and an error answer mean.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from specrunner.errors import ProviderError

PROVIDER_V2 = "provider-v2"
OCEAN_NODE = "ocean-node"


def get_root_uri(service_endpoint: str) -> str:
    """The provider root of a `serviceEndpoint`, as ocean.py's `get_root_uri` (§2.2): cut at
    the first "/api", drop two segments after ".../services/", strip slashes.
    ProviderError when it is not an http(s) URL."""
    uri = service_endpoint.strip()
    if "/api" in uri:
        uri = uri[: uri.find("/api")]
    parts = uri.split("/")
    if len(parts) >= 2 and parts[-2] == "services":
        uri = "/".join(parts[:-2])
    uri = uri.rstrip("/")
    if not uri.startswith(("http://", "https://")) or len(uri.split("/")) < 3:
        raise ProviderError(f"not a provider URL: {service_endpoint!r}", endpoint="root")
    return uri


@dataclass(frozen=True)
class ProviderInfo:
    """A provider's root answer (§2.1): endpoint table, and `dialect` ("provider-v2", or
    "ocean-node" when `software` says "Ocean-Node", §10.2)."""

    root: str
    endpoints: dict[str, tuple[str, str]]
    dialect: str
    raw: dict[str, Any]

    @classmethod
    def parse(cls, root: str, body: Any) -> ProviderInfo:
        """ProviderError unless the body has `serviceEndpoints` and a provider address (§2.2)."""
        table = body.get("serviceEndpoints") if isinstance(body, dict) else None
        if not isinstance(table, dict) or not (
            {"providerAddresses", "providerAddress"} & set(body)
        ):
            raise ProviderError(
                f"{root} is not an Ocean Provider (no serviceEndpoints/providerAddresses)",
                payload=body,
                endpoint="root",
            )
        endpoints = {
            # ocean.py joins root and path with one "/" (§2.2 build_endpoint).
            str(name): (str(v[0]).upper(), f"{root}/{str(v[1]).strip('/')}")
            for name, v in table.items()
            if isinstance(v, list) and len(v) == 2
        }
        software = str(body.get("software") or "").lower().replace("-", "").replace(" ", "")
        dialect = OCEAN_NODE if software == "oceannode" else PROVIDER_V2
        return cls(root=root, endpoints=endpoints, dialect=dialect, raw=body)

    def endpoint(self, name: str) -> tuple[str, str]:
        """(method, url); exact name, else case-insensitive as ocean.js (§2.2; `fileInfo`)."""
        found = self.endpoints.get(name) or next(
            (v for k, v in self.endpoints.items() if k.lower() == name.lower()), None
        )
        if found is None:
            raise ProviderError(f"provider {self.root} does not offer {name!r}", endpoint=name)
        return found


def describe_error_body(payload: Any, fallback: str = "") -> str:
    """The provider's own message from any §1.1 error body (and ocean-node's JSON string)."""
    if isinstance(payload, dict):
        if "errors" in payload:  # flask-sieve; errors.signature may be a plain string
            return _fields_text(payload["errors"]) or str(payload.get("message") or fallback)
        if "error" in payload:  # route errors, unhandled exceptions (+context), passthrough
            return _fields_text(payload["error"]) or fallback
        if "message" in payload:
            return str(payload["message"])
    if isinstance(payload, str):  # not JSON at all, or a JSON string
        return _clip(" ".join(payload.split())) or fallback
    return fallback if payload is None else _clip(json.dumps(payload))


def _fields_text(errors: Any) -> str:
    if not isinstance(errors, dict):
        return "" if errors in (None, "") else _clip(str(errors))
    return _clip(
        "; ".join(
            f"{name}: " + ("; ".join(map(str, value)) if isinstance(value, list) else str(value))
            for name, value in errors.items()
        )
    )


def _clip(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_from_response(response: httpx.Response, endpoint: str) -> ProviderError:
    """One ProviderError with the provider's message, the HTTP status and the decoded body."""
    try:
        payload: Any = response.json()
    except ValueError:
        payload = response.text
    return ProviderError(
        f"{endpoint} failed (HTTP {response.status_code}): "
        + describe_error_body(payload, response.reason_phrase),
        status_code=response.status_code,
        payload=payload,
        endpoint=endpoint,
    )


def json_body(response: httpx.Response, endpoint: str) -> Any:
    """The decoded JSON answer; ProviderError (status, first 500 chars) when it is not JSON."""
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(
            f"{endpoint} answered HTTP {response.status_code} with a body that is not JSON",
            status_code=response.status_code,
            payload=response.text[:500],
            endpoint=endpoint,
        ) from exc


def as_list(body: Any, endpoint: str) -> list[Any]:
    """A list answer as is, one object as a one-item list; ProviderError otherwise."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise ProviderError(f"{endpoint} answered neither a list nor an object", payload=body)
