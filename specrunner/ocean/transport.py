"""`Transport`: the HTTP policy of the Ocean clients over an injectable `httpx.Client`.

Failures: ProviderError (an error answer, any §1.1 body shape) └── ProviderUnreachableError
(no answer after the allowed retries). Retries: a connection that failed before sending, for
every call; timeouts, dropped connections and 429/500/502/503/504 only for idempotent calls,
so a compute start is never resent once it may have arrived. Callers pass an `attempt` that
builds its request afresh, so signed calls are re-signed per attempt: a provider consumes a
nonce when it sees it (§3.3).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from specrunner.atomic import atomic_writer
from specrunner.errors import ProviderUnreachableError
from specrunner.ocean.protocol import error_from_response, json_body

# 500 too: a proxy or a provider restarting answers it for a moment, and a GET is safe to resend.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)  # safe to resend
CHUNK = 1 << 16


@dataclass(frozen=True)
class Download:
    """A file written by a streamed download."""

    path: Path
    size: int
    sha256: str


class Transport:
    """Bounded retries and exponential backoff around one `httpx.Client`.

    `client` is the transport; `retries` the extra attempts, after `backoff * 2**n` seconds
    (or Retry-After) passed to `sleep`. Thread-safe as the client is.
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
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), follow_redirects=True
        )
        self._retries, self._backoff, self._sleep = max(0, retries), backoff, sleep

    def close(self) -> None:
        self.client.close()

    def send(
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
                    raise unreachable(exc, endpoint, target, maybe_done=maybe_done) from exc
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

    def download(self, url: str) -> bytes:
        """The bytes behind a signed result URL (single use: resent only if never sent)."""
        response = self.send(lambda: self.client.get(url), False, "computeResult", origin(url))
        if response.status_code != 200:
            raise error_from_response(response, "computeResult")
        return response.content

    def download_to(self, url: str, path: Path | str) -> Download:
        """Stream a signed result URL into `path` in chunks, atomically; size and sha256."""
        request = self.client.build_request("GET", url)
        send = lambda: self.client.send(request, stream=True)  # noqa: E731
        response = self.send(send, False, "computeResult", origin(url))
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
            raise unreachable(exc, "computeResult", origin(url), maybe_done=False) from exc
        finally:
            response.close()
        return Download(Path(path), size, digest.hexdigest())

    def get_json(self, url: str, endpoint: str) -> Any:
        """An idempotent GET of a JSON document under this policy (Aquarius uses it)."""
        response = self.send(lambda: self.client.get(url), True, endpoint, origin(url))
        if response.status_code != 200:
            raise error_from_response(response, endpoint)
        return json_body(response, endpoint)


def unreachable(
    exc: httpx.TransportError, endpoint: str, target: str, *, maybe_done: bool
) -> ProviderUnreachableError:
    """The error for no answer; `maybe_done` when the request may have arrived anyway."""
    hint = "; it may have been processed, check before retrying" if maybe_done else ""
    return ProviderUnreachableError(
        f"no answer from {target} to {endpoint} ({type(exc).__name__}){hint}", endpoint=endpoint
    )


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL, to name the server in errors."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.netloc.decode()}"
