"""Build, bind, serve and shut down one provider: the one bootstrap that both `provider serve`
and the embedded provider use, so a fix to either (the socket, the shutdown order) is made once.

    runner = ProviderRunner.open(folder, config_path, dialect)   # takes the folder's lock
    runner.bind(host, port)                                      # -> the URL clients use
    runner.serve()            # blocks until interrupted (provider serve), or
    runner.start()            # serves on a thread (the embedded provider); then
    runner.close()            # stops serving, ends the engine, closes the store, frees the lock

`open` raises `FolderInUseError` when another process holds the folder; a caller that may use
that process's provider instead reads its URL from the error.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from specrunner.errors import SpecRunnerError
from specrunner.server.app import create_app
from specrunner.server.config import ProviderConfig, load_config
from specrunner.server.context import ProviderContext, build_context
from specrunner.server.datadir import DataDirLock

GRACEFUL_SHUTDOWN_SECONDS = 5


class FolderInUseError(SpecRunnerError):
    """Another process serves this data folder; `lock.owner_url()` says where, if it said."""

    def __init__(self, folder: Path, lock: DataDirLock) -> None:
        super().__init__(f"{folder} is in use by another provider")
        self.lock = lock


@dataclass
class ProviderRunner:
    """One provider's lifetime over a data folder; see the module docstring."""

    folder: Path
    config: ProviderConfig
    ctx: ProviderContext
    lock: DataDirLock
    url: str = ""
    _socket: socket.socket | None = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @classmethod
    def open(
        cls, folder: Path, config_path: Path | None = None, dialect: str | None = None
    ) -> ProviderRunner:
        """Lock the folder, load the configuration, build the context and recover the jobs
        a previous run left behind. Raises FolderInUseError, or ConfigError for a bad file."""
        folder.mkdir(parents=True, exist_ok=True)
        lock = DataDirLock(folder.resolve())
        if not lock.try_acquire():
            raise FolderInUseError(folder, lock)
        try:
            config = load_config(config_path, folder, dialect)
            ctx = build_context(config, folder)
            ctx.engine.recover()
        except BaseException:
            lock.release()
            raise
        return cls(folder=folder, config=config, ctx=ctx, lock=lock)

    def bind(self, host: str, port: int, backlog: int = 2048) -> str:
        """Listen on host:port (0: a free port); returns and publishes the provider's URL."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio then turns Nagle off on accepted sockets, which saves
        # ~44 ms per answer (a delayed ACK) on every request (bench/bench_provider.py).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise SpecRunnerError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        sock.listen(backlog)
        sock.set_inheritable(True)
        actual_host, actual_port = sock.getsockname()[:2]
        shown = f"[{actual_host}]" if ":" in actual_host else actual_host
        self._socket = sock
        self.url = f"http://{shown}:{actual_port}"
        self.lock.publish_url(self.url)
        return self.url

    def serve(self, log_level: str = "warning") -> None:
        """Serve until interrupted (SIGINT/SIGTERM), then close."""
        try:
            self._make_server(log_level).run(sockets=[self._bound()])
        finally:
            self.close()

    def start(self, log_level: str = "error", timeout: float = 15.0) -> None:
        """Serve on a daemon thread, returning once requests are answered. Off the main
        thread, uvicorn leaves the caller's signal handlers alone."""
        server = self._make_server(log_level)
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [self._bound()]},
            name="embedded-provider",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.close()
                raise SpecRunnerError("the embedded provider did not start")
            time.sleep(0.01)

    def close(self) -> None:
        """Stop serving, end the engine's jobs, close the store, free the folder. Idempotent."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS * 2)
            self._thread = None
        self._server = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self.lock.held:
            self.ctx.engine.shutdown()
            self.ctx.store.close()
            self.lock.release()

    def _make_server(self, log_level: str) -> uvicorn.Server:
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.ctx),
                log_level=log_level,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            )
        )
        return self._server

    def _bound(self) -> socket.socket:
        if self._socket is None:
            raise SpecRunnerError("the provider is not bound: call bind() first")
        return self._socket
