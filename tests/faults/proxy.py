"""A loopback HTTP proxy in front of the real provider that can delay, answer 500 or go away.

A test double for the network only: every answer it passes on comes from the real provider.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass
class Seen:
    method: str
    path: str
    at: float
    answered: int


@dataclass
class Faults:
    mode: str = "pass"  # "pass" or "500"
    delay: float = 0.0  # seconds before each answer
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Proxy:
    """`url` forwards to `upstream`; set `faults.mode`/`faults.delay`, or `down()`/`up()`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults = Faults()
        self._client = httpx.Client(timeout=60)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        handler = _handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop listening: connections are refused, as with a provider that is not running."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        self.down()
        self._client.close()

    def requests(self, path: str, since: float = 0.0) -> list[Seen]:
        with self.faults.lock:
            return [s for s in self.faults.seen if s.path.startswith(path) and s.at >= since]


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            faults = proxy.faults
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            if faults.delay:
                time.sleep(faults.delay)
            if faults.mode == "500":
                status, headers, content = (
                    500,
                    {"content-type": "application/json"},
                    b'{"error": "injected by the test proxy"}',
                )
            else:
                headers_in = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                answer = proxy._client.request(
                    self.command, proxy.upstream + self.path, headers=headers_in, content=body
                )
                status, content = answer.status_code, answer.content
                skip = {"content-length", "transfer-encoding", "connection", "content-encoding"}
                headers = {k: v for k, v in answer.headers.items() if k.lower() not in skip}
            with faults.lock:
                faults.seen.append(Seen(self.command, self.path, time.monotonic(), status))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(content)))
            self.send_header("connection", "close")
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

    return Handler
