"""`DataServiceProvider`: one method per Ocean Provider v2 endpoint used by compute (§4).

Endpoints, bodies and signatures here; the HTTP policy (retries, backoff, streamed
downloads, ProviderError/ProviderUnreachableError) is `transport.Transport`, and the root
document and error bodies are read by `protocol`. Signed calls are re-signed per attempt:
a provider consumes a nonce when it sees it (§3.3).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from specrunner.errors import ProviderError
from specrunner.ocean.models import AlgorithmMetadata, ComputeInput, JobStatus
from specrunner.ocean.protocol import (
    OCEAN_NODE,
    PROVIDER_V2,
    ProviderInfo,
    as_list,
    describe_error_body,
    error_from_response,
    get_root_uri,
    json_body,
)
from specrunner.ocean.signing import (
    Signer,
    as_signer,
    compute_job_message,
    compute_result_message,
    compute_start_message,
)
from specrunner.ocean.transport import Download, Transport

__all__ = [
    "OCEAN_NODE",
    "PROVIDER_V2",
    "DataServiceProvider",
    "Download",
    "ProviderInfo",
    "describe_error_body",
    "error_from_response",
    "get_root_uri",
    "parse_nonce",
    "shared_provider",
]


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
        self._transport = Transport(
            client, timeout=timeout, retries=retries, backoff=backoff, sleep=sleep
        )
        self._http = self._transport.client
        self._lock = threading.Lock()
        self._roots: dict[str, ProviderInfo] = {}
        self._issued: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        self._transport.close()

    def root(self, service_endpoint: str) -> ProviderInfo:
        """`GET /` of the endpoint's provider (§2), cached per root URL."""
        root = get_root_uri(service_endpoint)
        with self._lock:
            if root in self._roots:
                return self._roots[root]
        response = self._transport.send(lambda: self._http.get(root), True, "root", root)
        if response.status_code != 200:
            raise error_from_response(response, "root")
        info = ProviderInfo.parse(root, json_body(response, "root"))
        with self._lock:
            return self._roots.setdefault(root, info)

    def get_nonce(self, service_endpoint: str, address: str) -> str:
        """`GET nonce` (§4.2): the last nonce stored for `address`, as sent (a string)."""
        params = {"userAddress": address}
        body = json_body(self._call(service_endpoint, "nonce", lambda: {"params": params}), "nonce")
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
        answer = json_body(
            self._call(service_endpoint, "fileinfo", lambda: {"json": body}), "fileinfo"
        )
        return [dict(item) for item in as_list(answer, "fileinfo")]

    def compute_environments(self, service_endpoint: str, chain_id: int | None = None) -> Any:
        """`GET computeEnvironments` (§4.4) as sent: a dict keyed by chain id, or a list."""
        params = {} if chain_id is None else {"chainId": str(chain_id)}
        response = self._call(service_endpoint, "computeEnvironments", lambda: {"params": params})
        return json_body(response, "computeEnvironments")

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
        answer = json_body(response, "initializeCompute")
        if not isinstance(answer, dict):
            raise ProviderError("initializeCompute answered no object", payload=answer)
        return answer

    def compute_status(
        self, service_endpoint: str, consumer_address: str, job_id: str | None = None
    ) -> list[JobStatus]:
        """`GET compute` (§4.7, unsigned): the owner's jobs; `[]` for a job not theirs."""
        params = {"consumerAddress": consumer_address, **({"jobId": job_id} if job_id else {})}
        response = self._call(service_endpoint, "computeStatus", lambda: {"params": params})
        return _jobs(json_body(response, "computeStatus"), "computeStatus")

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
        jobs = _jobs(json_body(response, "computeStart"), "computeStart")
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
        return self._transport.download(url)

    def download_to(self, url: str, path: Path | str) -> Download:
        """Stream a signed result URL into `path` in chunks, atomically; size and sha256."""
        return self._transport.download_to(url, path)

    def get_json(self, url: str, endpoint: str) -> Any:
        """An idempotent GET of a JSON document under this policy (Aquarius uses it)."""
        return self._transport.get_json(url, endpoint)

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

        return json_body(self._call(endpoint, name, prepare), name)

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
        response = self._transport.send(send, idempotent, name, info.root)
        if response.status_code not in ok:
            raise error_from_response(response, name)
        return response


def _result_params(signer: Signer, job_id: str, index: int, nonce: int) -> dict[str, str]:
    signature = signer.sign(f"{compute_result_message(signer.address, job_id, index)}{nonce}")
    return {
        "consumerAddress": signer.address,
        "jobId": job_id,
        "index": str(index),
        "nonce": str(nonce),
        "signature": signature,
    }


def _jobs(body: Any, endpoint: str) -> list[JobStatus]:
    """Jobs from a list (Provider v2) or one object (ocean.py accepts both, §4.6)."""
    try:
        return [JobStatus.model_validate(item) for item in as_list(body, endpoint)]
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
