"""The OpenAPI 3.1 document served at `GET /spec`: every route, its parameters and bodies."""

from __future__ import annotations

from typing import Any

ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}
NONCE = {"oneOf": [{"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"}, {"type": "integer"}]}
SIGNATURE = {"type": "string", "pattern": "^0x[0-9a-fA-F]{130}$"}
ERROR = {
    "description": "Refused; the body says why",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
JSON_OK = {"description": "OK", "content": {"application/json": {"schema": {}}}}


def _query(name: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    *,
    params: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    ok: dict[str, Any] | None = None,
    errors: tuple[str, ...] = ("400",),
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {"200": ok or JSON_OK}}
    for code in errors:
        operation["responses"][code] = ERROR
    if params:
        operation["parameters"] = params
    if body:
        operation["requestBody"] = body
    return operation


INPUT = {
    "type": "object",
    "required": ["documentId", "serviceId", "transferTxId"],
    "properties": {
        "documentId": {"type": "string"},
        "serviceId": {"type": "string"},
        "transferTxId": {"type": "string"},
        "userdata": {"type": "object"},
    },
}
ALGORITHM = {
    "type": "object",
    "properties": {
        "documentId": {"type": "string"},
        "serviceId": {"type": "string"},
        "transferTxId": {"type": "string"},
        "algocustomdata": {"type": "object"},
        "meta": {"type": "object"},
    },
}
JOB_QUERY = [
    _query("consumerAddress", ADDRESS),
    _query("jobId", {"type": "string"}, False),
    _query("documentId", {"type": "string"}, False),
    _query("agreementId", {"type": "string"}, False),
]
SIGNED_QUERY = [_query("nonce", NONCE), _query("signature", SIGNATURE)]


def _paths() -> dict[str, Any]:
    return {
        "/": {"get": _operation("Endpoint discovery", errors=())},
        "/spec": {"get": _operation("This document", errors=())},
        "/api/services/nonce": {
            "get": _operation(
                "Last nonce used by an address", params=[_query("userAddress", ADDRESS)]
            )
        },
        "/api/services/fileinfo": {
            "post": _operation(
                "Files of a service",
                body=_body(
                    {
                        "type": "object",
                        "required": ["did", "serviceId"],
                        "properties": {
                            "did": {"type": "string"},
                            "serviceId": {"type": "string"},
                            "checksum": {"type": "boolean"},
                        },
                    }
                ),
            )
        },
        "/api/services/computeEnvironments": {
            "get": _operation(
                "Compute environments keyed by chain id",
                params=[_query("chainId", {"type": "integer"}, False)],
                errors=(),
            )
        },
        "/api/services/initialize": {"get": _operation("Access services are not offered")},
        "/api/services/initializeCompute": {
            "post": _operation(
                "Quote and order compute inputs",
                body=_body(
                    {
                        "type": "object",
                        "required": ["datasets", "compute", "consumerAddress"],
                        "properties": {
                            "datasets": {"type": "array", "items": INPUT},
                            "algorithm": ALGORITHM,
                            "consumerAddress": ADDRESS,
                            "compute": {
                                "type": "object",
                                "required": ["env", "validUntil"],
                                "properties": {
                                    "env": {"type": "string"},
                                    "validUntil": {"type": "integer"},
                                },
                            },
                        },
                    }
                ),
            )
        },
        "/api/services/validateContainer": {
            "post": _operation("Check a container object", body=_body({"type": "object"}))
        },
        "/api/services/compute": {
            "post": _operation(
                "Start a compute job",
                body=_body(
                    {
                        "type": "object",
                        "required": [
                            "dataset",
                            "algorithm",
                            "consumerAddress",
                            "nonce",
                            "signature",
                            "environment",
                        ],
                        "properties": {
                            "dataset": INPUT,
                            "algorithm": ALGORITHM,
                            "additionalDatasets": {"type": "array", "items": INPUT},
                            "consumerAddress": ADDRESS,
                            "nonce": NONCE,
                            "signature": SIGNATURE,
                            "environment": {"type": "string"},
                        },
                    }
                ),
                errors=("400", "503"),
            ),
            "get": _operation("Status of the owner's jobs", params=JOB_QUERY),
            "put": _operation("Stop jobs", params=JOB_QUERY + SIGNED_QUERY),
            "delete": _operation(
                "Delete (a no-op, as in operator-service)", params=JOB_QUERY + SIGNED_QUERY
            ),
        },
        "/api/services/computeResult": {
            "get": _operation(
                "Download one result file",
                params=[
                    _query("consumerAddress", ADDRESS),
                    _query("jobId", {"type": "string"}),
                    _query("index", {"type": "integer", "minimum": 0}),
                    *SIGNED_QUERY,
                ],
                ok={
                    "description": "The file",
                    "content": {
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        }
                    },
                },
                errors=("400", "404"),
            )
        },
        "/api/services/publish": {
            "post": _operation(
                "Publish files as a DDO v4 asset (specrunner extension)",
                body=_body(
                    {
                        "type": "object",
                        "required": ["publisherAddress", "nonce", "signature", "files"],
                        "properties": {
                            "publisherAddress": ADDRESS,
                            "nonce": NONCE,
                            "signature": SIGNATURE,
                            "type": {"enum": ["dataset", "algorithm"]},
                            "name": {"type": "string"},
                            "files": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["filename", "content"],
                                    "properties": {
                                        "filename": {"type": "string"},
                                        "content": {"type": "string", "contentEncoding": "base64"},
                                    },
                                },
                            },
                            "compute": {"type": "object"},
                            "algorithm": {"type": "object"},
                        },
                    }
                ),
                errors=("400", "413"),
            )
        },
        "/api/aquarius/assets/ddo/{did}": {
            "get": _operation(
                "A DDO, as Aquarius serves it",
                params=[
                    {"name": "did", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                errors=("404",),
            )
        },
    }


def openapi_document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "specrunner embedded Ocean Provider",
            "version": "2.1.6",
            "description": "Provider v2 compute API with an Aquarius-compatible DDO store.",
        },
        "servers": [{"url": server_url}],
        "paths": _paths(),
    }
