"""`DataServiceProvider`: one method per Ocean compute endpoint (Provider v2, §4; ocean-node, §10).

Endpoints, bodies and signatures here; the HTTP policy (retries, backoff, streamed
downloads, ProviderError/ProviderUnreachableError) is `transport.Transport`, and the root
document and error bodies are read by `protocol`. Signed calls are re-signed per attempt:
a provider consumes a nonce when it sees it (§3.3).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from specrunner.errors import ProviderError
from specrunner.ocean import node
from specrunner.ocean.models import DDO, AlgorithmMetadata, ComputeInput, JobStatus
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
    publish_digest,
    publish_message,
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
        """Start a job from the unsigned Provider v2 body `OceanCompute` builds; adds
        `consumerAddress`, `nonce` and the signature. Provider v2: `POST compute` signed
        `consumerAddress + dataset DID + nonce` (§4.6); ocean-node: `POST freeCompute` with a
        `datasets` list, signed `consumerAddress + nonce + freeStartCompute` (§10.3).
        Never resent once it may have arrived: an unreachable error says to check status."""
        signer = as_signer(consumer_wallet)
        if self.root(service_endpoint).dialect == OCEAN_NODE:
            name, body = "freeCompute", node.start_body(payload)

            def prepare() -> dict[str, Any]:
                signed = self._node_signature(service_endpoint, signer, node.FREE_START)
                return {"json": {**body, "consumerAddress": signer.address, **signed}}
        else:
            name, message = (
                "computeStart",
                compute_start_message(signer.address, str(payload["dataset"]["documentId"])),
            )

            def prepare() -> dict[str, Any]:
                signed = self._signature(service_endpoint, signer, message)
                return {"json": {**payload, "consumerAddress": signer.address, **signed}}

        response = self._call(service_endpoint, name, prepare, False, (200, 201))
        jobs = _jobs(json_body(response, name), name)
        if not jobs:
            raise ProviderError(f"{name} answered no job", endpoint=name)
        return jobs[0]

    def publish(self, service_endpoint: str, signer: Signer, body: dict[str, Any]) -> DDO:
        """Our publish extension (specrunner providers only): `body` from
        `publishing.build_publish_request`, signed `publish_message(address, digest) + nonce`;
        returns the DDO as the provider serves it. Publishing is idempotent on the provider
        (content-derived DIDs), so it is retried like any idempotent call, re-signed each time.
        ProviderError saying so when the provider does not offer it."""
        if not self._offers(service_endpoint, "publish"):
            raise ProviderError(
                f"{get_root_uri(service_endpoint)} does not accept publishing "
                "(only specrunner providers do)",
                endpoint="publish",
            )

        def prepare() -> dict[str, Any]:
            nonce = self.next_nonces(service_endpoint, signer.address)[0]
            signed = {**body, "publisherAddress": signer.address, "nonce": str(nonce)}
            message = publish_message(signer.address, publish_digest(signed))
            return {"json": {**signed, "signature": signer.sign(f"{message}{nonce}")}}

        answer = json_body(self._call(service_endpoint, "publish", prepare), "publish")
        try:
            return DDO.model_validate(answer)
        except ValidationError as exc:
            raise ProviderError(
                f"publish answered a malformed DDO: {exc.errors()[0]['msg']}",
                payload=answer,
                endpoint="publish",
            ) from exc

    def _offers(self, service_endpoint: str, name: str) -> bool:
        try:
            self.root(service_endpoint).endpoint(name)
        except ProviderError as exc:
            if exc.endpoint == name:
                return False
            raise
        return True

    def stream_logs(self, service_endpoint: str, wallet: Any, job_id: str) -> Iterator[bytes]:
        """Live logs of a running job: ocean-node's `computeStreamableLogs` (§10.3), signed
        `consumerAddress + nonce + getComputeStreamableLogs`. ProviderError when the job is
        not running (404) or the provider has no live logs (Provider v2)."""
        signer = as_signer(wallet)
        info = self.root(service_endpoint)
        _, url = info.endpoint("computeStreamableLogs")
        signed = self._node_signature(service_endpoint, signer, node.STREAM_LOGS)
        params = {
            "consumerAddress": signer.address,
            "jobId": job_id,
            **{key: str(value) for key, value in signed.items()},
        }
        with self._http.stream("GET", url, params=params, timeout=None) as response:
            if response.status_code != 200:
                response.read()
                raise error_from_response(response, "computeStreamableLogs")
            yield from response.iter_bytes()

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
        """Signed `GET computeResult` URLs (§4.10, §10.3), one per index, nonces increasing.

        Each works once, and only until a later nonce of that wallet is used at that
        provider: fetch them in the order given, before the wallet's next signed call.
        """
        if not indexes:
            return []
        info = self.root(service_endpoint)
        _, url = info.endpoint("computeResult")
        signer = as_signer(wallet)
        nonces = self.next_nonces(service_endpoint, signer.address, len(indexes))
        on_node = info.dialect == OCEAN_NODE
        return [
            str(httpx.URL(url, params=_result_params(signer, job_id, index, nonce, on_node)))
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

    def _signature(self, service_endpoint: str, signer: Signer, message: str) -> dict[str, Any]:
        nonce = self.next_nonces(service_endpoint, signer.address)[0]
        return {"nonce": nonce, "signature": signer.sign(f"{message}{nonce}")}

    def _node_signature(
        self, service_endpoint: str, signer: Signer, command: str
    ) -> dict[str, Any]:
        nonce = self.next_nonces(service_endpoint, signer.address)[0]
        message = node.signed_message(signer.address, nonce, command)
        return {"nonce": str(nonce), "signature": signer.sign(message)}

    def _job_call(self, endpoint: str, name: str, wallet: Any, job_id: str, did: str) -> Any:
        signer = as_signer(wallet)
        if self.root(endpoint).dialect == OCEAN_NODE:

            def prepare_node() -> dict[str, Any]:
                # ocean-node reads stop's fields from the query string (§10.2).
                signed = self._node_signature(endpoint, signer, node.STOP)
                return {"params": {"consumerAddress": signer.address, "jobId": job_id, **signed}}

            return json_body(self._call(endpoint, name, prepare_node), name)
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


def _result_params(
    signer: Signer, job_id: str, index: int, nonce: int, on_node: bool
) -> dict[str, str]:
    if on_node:
        signature = signer.sign(node.signed_message(signer.address, nonce, node.GET_RESULT))
    else:
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
        ) from exc


_shared: DataServiceProvider | None = None
_shared_lock = threading.Lock()


def shared_provider() -> DataServiceProvider:
    """The process-wide instance, so each provider root is fetched once per process."""
    global _shared  # noqa: PLW0603 - one lazily built client per process, by design
    with _shared_lock:
        if _shared is None:
            _shared = DataServiceProvider()
        return _shared
