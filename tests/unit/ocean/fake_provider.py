"""A stand-in for a remote Ocean Provider v2, built only from the reference's payloads.

It serves `GET /` (§2.1, verbatim) and `GET nonce` (§4.2: the stored nonce as a string)
and whatever a test adds; every request is recorded so tests can assert its exact shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

URL = "http://provider.test:8030"
ADDRESS = "0x00Bd138aBD70e2F00903268F3Db08f2D25677C9e"

# §2.1, verbatim.
ROOT_BODY: dict[str, Any] = {
    "chainIds": [8996],
    "providerAddresses": {"8996": ADDRESS},
    "serviceEndpoints": {
        "computeDelete": ["DELETE", "/api/services/compute"],
        "computeEnvironments": ["GET", "/api/services/computeEnvironments"],
        "computeResult": ["GET", "/api/services/computeResult"],
        "computeStart": ["POST", "/api/services/compute"],
        "computeStatus": ["GET", "/api/services/compute"],
        "computeStop": ["PUT", "/api/services/compute"],
        "createAuthToken": ["GET", "/api/services/createAuthToken"],
        "decrypt": ["POST", "/api/services/decrypt"],
        "deleteAuthToken": ["DELETE", "/api/services/deleteAuthToken"],
        "download": ["GET", "/api/services/download"],
        "encrypt": ["POST", "/api/services/encrypt"],
        "fileinfo": ["POST", "/api/services/fileinfo"],
        "initialize": ["GET", "/api/services/initialize"],
        "initializeCompute": ["POST", "/api/services/initializeCompute"],
        "nonce": ["GET", "/api/services/nonce"],
        "validateContainer": ["POST", "/api/services/validateContainer"],
    },
    "software": "Provider",
    "version": "2.1.6",
}

# §4.6: what operator-service answers right after a start.
STARTED_JOB: dict[str, Any] = {
    "agreementId": "0x9a1c",
    "jobId": "4d32947065bb46c8b87c1f7adfb7ed8b",
    "owner": "0xConsumer",
    "status": 1,
    "statusText": "Warming up",
    "dateCreated": "1700000000.123456",
    "dateFinished": None,
    "results": "",
    "stopreq": 0,
    "removed": 0,
    "algoDID": "did:op:algo",
    "inputDID": ["did:op:data"],
}

# §6.2: a finished job, results in pod-publishing's order (§7).
FINISHED_JOB: dict[str, Any] = {
    **STARTED_JOB,
    "status": 70,
    "statusText": "Job finished",
    "dateFinished": "1700000123.456789",
    "results": [
        {"filename": "result.pickle", "filesize": 1281, "type": "output"},
        {"filename": "algorithm.log", "filesize": 212, "type": "algorithmLog"},
        {"filename": "configure.log", "filesize": 2956, "type": "configrationLog"},
        {"filename": "publish.log", "filesize": 88, "type": "publishLog"},
    ],
}

Handler = Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", **headers},
    )


class FakeProvider:
    """Routes by (method, path); a route holds a handler or a queue of responses."""

    def __init__(self, url: str = URL, root: dict[str, Any] | None = None) -> None:
        self.url = url
        self.root = ROOT_BODY if root is None else root
        self.nonce = "1"  # what GET nonce answers (Provider v2 stores 1 for a new address)
        self.requests: list[httpx.Request] = []
        self.routes: dict[tuple[str, str], Handler | list[httpx.Response]] = {}

    def on(self, method: str, path: str, *answers: httpx.Response | Handler) -> None:
        if len(answers) == 1 and callable(answers[0]):
            self.routes[(method, path)] = answers[0]
        else:
            self.routes[(method, path)] = [a for a in answers if isinstance(a, httpx.Response)]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if key == ("GET", "/") and key not in self.routes:
            return json_response(200, self.root)
        if key == ("GET", "/api/services/nonce") and key not in self.routes:
            return json_response(200, {"nonce": self.nonce})
        route = self.routes.get(key)
        if route is None:
            return json_response(404, {"error": "404 Not Found: no such route", "context": {}})
        if callable(route):
            return route(request)
        return route.pop(0) if len(route) > 1 else route[0]

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handle))

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]
