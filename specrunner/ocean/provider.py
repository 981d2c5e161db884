"""`DataServiceProvider`: one method per Ocean Provider v2 endpoint used by compute (§4).

Policy here, I/O in an injectable `httpx.Client`. Failures: ProviderError (an error answer,
any §1.1 body shape) └── ProviderUnreachableError (no answer after the allowed retries).
Retries: a connection that failed before sending, for every call; timeouts, dropped
connections and 429/502/503/504 only for idempotent calls, so a compute start is never
resent once it may have arrived. Signed calls are re-signed per attempt: a provider
consumes a nonce when it sees it (§3.3).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from specrunner.atomic import atomic_writer
from specrunner.errors import ProviderError, ProviderUnreachableError
from specrunner.ocean.models import AlgorithmMetadata, ComputeInput, JobStatus
from specrunner.ocean.signing import (
    Signer,
    as_signer,
    compute_job_message,
    compute_result_message,
    compute_start_message,
)

PROVIDER_V2 = "provider-v2"
OCEAN_NODE = "ocean-node"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # safe to resend
CHUNK = 1 << 16


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


def parse_nonce(value: Any) -> int:
    """A stored nonce as an int, floored (timestamp nonces work). Decimal, not float: a
    nanosecond timestamp would lose its last digits (§3.3). ProviderError if not a number."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ProviderError(f"provider answered a nonce that is not a number: {value!r}")
    return int(number.to_integral_value(rounding=ROUND_FLOOR))


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


@dataclass(frozen=True)
class Download:
    """A file written by a streamed download."""

    path: Path
    size: int
    sha256: str


class DataServiceProvider:
    """Client of Provider v2 compute endpoints; each root answer is fetched once per provider.

    `client` is the transport; `retries` the extra attempts, after `backoff * 2**n` seconds
    (or Retry-After) passed to `sleep`. Thread-safe: one instance can serve a process.
    """

    def __init__(
        self,
        client: httpx.Client | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), follow_redirects=True
        )
        self._retries, self._backoff, self._sleep = max(0, retries), backoff, sleep
        self._lock = threading.Lock()
        self._roots: dict[str, ProviderInfo] = {}
        self._issued: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        self._http.close()

    def root(self, service_endpoint: str) -> ProviderInfo:
        """`GET /` of the endpoint's provider (§2), cached per root URL."""
        root = get_root_uri(service_endpoint)
        with self._lock:
            if root in self._roots:
                return self._roots[root]
        response = self._send(lambda: self._http.get(root), True, "root", root)
        if response.status_code != 200:
            raise error_from_response(response, "root")
        info = ProviderInfo.parse(root, _json(response, "root"))
        with self._lock:
            return self._roots.setdefault(root, info)

    def get_nonce(self, service_endpoint: str, address: str) -> str:
        """`GET nonce` (§4.2): the last nonce stored for `address`, as sent (a string)."""
        params = {"userAddress": address}
        body = _json(self._call(service_endpoint, "nonce", lambda: {"params": params}), "nonce")
        value = body.get("nonce") if isinstance(body, dict) else body
        return "0" if value is None else str(value)  # ocean.js counts a missing one as 0

    def next_nonces(self, service_endpoint: str, address: str, count: int = 1) -> list[int]:
        """`count` increasing nonces above the stored one and above all this instance has
        handed out for the address, so requests signed together work in that order."""
        first = parse_nonce(self.get_nonce(service_endpoint, address)) + 1
        key = (get_root_uri(service_endpoint), address.lower())
        with self._lock:
            first = max(first, self._issued.get(key, 0) + 1)
            self._issued[key] = first + count - 1
        return list(range(first, first + count))

    def fileinfo(self, service_endpoint: str, did: str, service_id: str) -> list[dict[str, Any]]:
        """`POST fileinfo` (§4.3): one entry per file of the service, each with `valid`."""
        body = {"did": did, "serviceId": service_id}
        answer = _json(self._call(service_endpoint, "fileinfo", lambda: {"json": body}), "fileinfo")
        return [dict(item) for item in _as_list(answer, "fileinfo")]

    def compute_environments(self, service_endpoint: str, chain_id: int | None = None) -> Any:
        """`GET computeEnvironments` (§4.4) as sent: a dict keyed by chain id, or a list."""
        params = {} if chain_id is None else {"chainId": str(chain_id)}
        response = self._call(service_endpoint, "computeEnvironments", lambda: {"params": params})
        return _json(response, "computeEnvironments")

    def initialize_compute(
        self,
        service_endpoint: str,
        datasets: Sequence[ComputeInput],
        algorithm: ComputeInput | AlgorithmMetadata,
        compute_environment: str,
        valid_until: int,
        consumer_address: str,
    ) -> dict[str, Any]:
        """`POST initializeCompute` (§4.5): per input a `validOrder` and/or a `providerFee`."""
        body = {
            "datasets": [item.as_dictionary() for item in datasets],
            "algorithm": algorithm.as_dictionary(),
            "compute": {"env": compute_environment, "validUntil": int(valid_until)},
            "consumerAddress": consumer_address,
        }
        response = self._call(service_endpoint, "initializeCompute", lambda: {"json": body})
        answer = _json(response, "initializeCompute")
        if not isinstance(answer, dict):
            raise ProviderError("initializeCompute answered no object", payload=answer)
        return answer

    def compute_status(
        self, service_endpoint: str, consumer_address: str, job_id: str | None = None
    ) -> list[JobStatus]:
        """`GET compute` (§4.7, unsigned): the owner's jobs; `[]` for a job not theirs."""
        params = {"consumerAddress": consumer_address, **({"jobId": job_id} if job_id else {})}
        response = self._call(service_endpoint, "computeStatus", lambda: {"params": params})
        return _jobs(_json(response, "computeStatus"), "computeStatus")

    def start_compute(
        self, service_endpoint: str, consumer_wallet: Any, payload: dict[str, Any]
    ) -> JobStatus:
        """`POST compute` (§4.6) with an unsigned body (`OceanCompute` builds it); adds
        `consumerAddress`, `nonce` and the signature over `consumerAddress + dataset DID`.
        Never resent once it may have arrived: an unreachable error says to check status."""
        signer = as_signer(consumer_wallet)
        self._require_v2(service_endpoint)
        did = str(payload["dataset"]["documentId"])
        message = compute_start_message(signer.address, did)

        def prepare() -> dict[str, Any]:
            signed = self._signature(service_endpoint, signer, message)
            return {"json": {**payload, "consumerAddress": signer.address, **signed}}

        response = self._call(service_endpoint, "computeStart", prepare, False, (200, 201))
        jobs = _jobs(_json(response, "computeStart"), "computeStart")
        if not jobs:
            raise ProviderError("computeStart answered no job", endpoint="computeStart")
        return jobs[0]

    def stop_compute(
        self, service_endpoint: str, wallet: Any, job_id: str, did: str
    ) -> list[JobStatus]:
        """`PUT compute` (§4.8): query signed `consumerAddress + jobId + did + nonce`."""
        answer = self._job_call(service_endpoint, "computeStop", wallet, job_id, did)
        return _jobs(answer, "computeStop")

    def delete_compute(self, service_endpoint: str, wallet: Any, job_id: str, did: str) -> Any:
        """`DELETE compute` (§4.9), signed like stop; Provider v2 deletes nothing, answers ""."""
        return self._job_call(service_endpoint, "computeDelete", wallet, job_id, did)

    def compute_result_urls(
        self, service_endpoint: str, wallet: Any, job_id: str, indexes: Sequence[int]
    ) -> list[str]:
        """Signed `GET computeResult` URLs (§4.10), one per index, nonces increasing.

        Each works once, and only until a later nonce of that wallet is used at that
        provider: fetch them in the order given, before the wallet's next signed call.
        """
        if not indexes:
            return []
        _, url = self._require_v2(service_endpoint).endpoint("computeResult")
        signer = as_signer(wallet)
        nonces = self.next_nonces(service_endpoint, signer.address, len(indexes))
        return [
            str(httpx.URL(url, params=_result_params(signer, job_id, index, nonce)))
            for index, nonce in zip(indexes, nonces, strict=True)
        ]

    def download(self, url: str) -> bytes:
        """The bytes behind a signed result URL (single use: resent only if never sent)."""
        response = self._send(lambda: self._http.get(url), False, "computeResult", _origin(url))
        if response.status_code != 200:
            raise error_from_response(response, "computeResult")
        return response.content

    def download_to(self, url: str, path: Path | str) -> Download:
        """Stream a signed result URL into `path` in chunks, atomically; size and sha256."""
        request = self._http.build_request("GET", url)
        send = lambda: self._http.send(request, stream=True)  # noqa: E731
        response = self._send(send, False, "computeResult", _origin(url))
        digest, size = hashlib.sha256(), 0
        try:
            if response.status_code != 200:
                response.read()
                raise error_from_response(response, "computeResult")
            with atomic_writer(Path(path)) as handle:
                for chunk in response.iter_bytes(CHUNK):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        except httpx.TransportError as exc:
            raise _unreachable(exc, "computeResult", _origin(url), maybe_done=False) from None
        finally:
            response.close()
        return Download(Path(path), size, digest.hexdigest())

    def get_json(self, url: str, endpoint: str) -> Any:
        """An idempotent GET of a JSON document under this policy (Aquarius uses it)."""
        response = self._send(lambda: self._http.get(url), True, endpoint, _origin(url))
        if response.status_code != 200:
            raise error_from_response(response, endpoint)
        return _json(response, endpoint)

    def _require_v2(self, service_endpoint: str) -> ProviderInfo:
        """ocean-node signs `address + nonce + command` (§10.2): not supported yet."""
        info = self.root(service_endpoint)
        if info.dialect != PROVIDER_V2:
            raise ProviderError(
                f"{info.root} speaks {info.dialect} (reference §10); only Provider v2 compute "
                "calls are supported so far",
                endpoint="root",
            )
        return info

    def _signature(self, service_endpoint: str, signer: Signer, message: str) -> dict[str, Any]:
        nonce = self.next_nonces(service_endpoint, signer.address)[0]
        return {"nonce": nonce, "signature": signer.sign(f"{message}{nonce}")}

    def _job_call(self, endpoint: str, name: str, wallet: Any, job_id: str, did: str) -> Any:
        signer = as_signer(wallet)
        self._require_v2(endpoint)
        message = compute_job_message(signer.address, job_id, did)

        def prepare() -> dict[str, Any]:
            # In the query string, as ocean.py sends it; the Provider then ignores a body (§1).
            signed = {k: str(v) for k, v in self._signature(endpoint, signer, message).items()}
            base = {"consumerAddress": signer.address, "documentId": did, "jobId": job_id}
            return {"params": {**base, **signed}}

        return _json(self._call(endpoint, name, prepare), name)

    def _call(
        self,
        service_endpoint: str,
        name: str,
        prepare: Callable[[], dict[str, Any]],
        idempotent: bool = True,
        ok: tuple[int, ...] = (200,),
    ) -> httpx.Response:
        """Send endpoint `name`; `prepare` builds its arguments (and signature) per attempt."""
        info = self.root(service_endpoint)
        method, url = info.endpoint(name)
        send = lambda: self._http.request(method, url, **prepare())  # noqa: E731
        response = self._send(send, idempotent, name, info.root)
        if response.status_code not in ok:
            raise error_from_response(response, name)
        return response

    def _send(
        self, attempt: Callable[[], httpx.Response], idempotent: bool, endpoint: str, target: str
    ) -> httpx.Response:
        """`attempt()` with bounded retries and exponential backoff (module docstring)."""
        for number in range(self._retries + 1):
            last = number == self._retries
            try:
                response = attempt()
            except httpx.TransportError as exc:
                not_sent = isinstance(exc, NOT_SENT)
                if last or not (idempotent or not_sent):
                    maybe_done = not (idempotent or not_sent)
                    raise _unreachable(exc, endpoint, target, maybe_done=maybe_done) from None
                self._pause(number, None)
                continue
            if idempotent and not last and response.status_code in RETRY_STATUSES:
                response.close()
                self._pause(number, response.headers.get("retry-after"))
                continue
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _pause(self, number: int, retry_after: str | None) -> None:
        delay = min(self._backoff * 2**number, 10.0)
        if retry_after and retry_after.strip().isdigit():
            delay = max(delay, min(float(retry_after), 30.0))
        self._sleep(delay)


def _result_params(signer: Signer, job_id: str, index: int, nonce: int) -> dict[str, str]:
    signature = signer.sign(f"{compute_result_message(signer.address, job_id, index)}{nonce}")
    return {
        "consumerAddress": signer.address,
        "jobId": job_id,
        "index": str(index),
        "nonce": str(nonce),
        "signature": signature,
    }


def _unreachable(
    exc: httpx.TransportError, endpoint: str, target: str, *, maybe_done: bool
) -> ProviderUnreachableError:
    hint = "; it may have been processed, check before retrying" if maybe_done else ""
    return ProviderUnreachableError(
        f"no answer from {target} to {endpoint} ({type(exc).__name__}){hint}", endpoint=endpoint
    )


def _origin(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}"


def _json(response: httpx.Response, endpoint: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProviderError(
            f"{endpoint} answered HTTP {response.status_code} with a body that is not JSON",
            status_code=response.status_code,
            payload=response.text[:500],
            endpoint=endpoint,
        ) from None


def _as_list(body: Any, endpoint: str) -> list[Any]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        return [body]
    raise ProviderError(f"{endpoint} answered neither a list nor an object", payload=body)


def _jobs(body: Any, endpoint: str) -> list[JobStatus]:
    """Jobs from a list (Provider v2) or one object (ocean.py accepts both, §4.6)."""
    try:
        return [JobStatus.model_validate(item) for item in _as_list(body, endpoint)]
    except ValidationError as exc:
        raise ProviderError(
            f"{endpoint} answered a malformed job: {exc.errors()[0]['msg']}",
            payload=body,
            endpoint=endpoint,
        ) from None


_shared: DataServiceProvider | None = None
_shared_lock = threading.Lock()


def shared_provider() -> DataServiceProvider:
    """The process-wide instance, so each provider root is fetched once per process."""
    global _shared  # noqa: PLW0603 - one lazily built client per process, by design
    with _shared_lock:
        if _shared is None:
            _shared = DataServiceProvider()
        return _shared
