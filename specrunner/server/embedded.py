"""The embedded provider, started in-process on a free loopback port (design §4).

Specs without a `provider:` run here, with the provider's data in `.specrunner/provider`
of the current directory, so published local datasets and finished jobs persist.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from specrunner.errors import SpecRunnerError
from specrunner.server.datadir import DataDirLock

if TYPE_CHECKING:
    from specrunner.server.context import ProviderContext

DEFAULT_DATA_DIR = Path(".specrunner") / "provider"


class EmbeddedProvider:
    """A context manager: `with EmbeddedProvider() as provider: provider.url`."""

    def __init__(
        self,
        data_dir: Path = DEFAULT_DATA_DIR,
        startup_timeout: float = 15.0,
        allow_shared: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.startup_timeout = startup_timeout
        # Only read-only commands may use another process's provider: when that process
        # ends, its provider stops every job, ours included.
        self.allow_shared = allow_shared
        self.url = ""
        self._thread: threading.Thread | None = None
        self._server: object | None = None
        self._ctx: ProviderContext | None = None

    def __enter__(self) -> EmbeddedProvider:
        import uvicorn

        from specrunner.server.app import create_app
        from specrunner.server.config import load_config
        from specrunner.server.context import build_context

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = DataDirLock(self.data_dir.resolve())
        if not self._lock.try_acquire():
            if not self.allow_shared:
                raise SpecRunnerError(
                    f"{self.data_dir} is in use by another specrunner process; wait for it "
                    "to finish (jobs on its provider end when it does)"
                )
            self.url = self._running_url()
            return self
        self._ctx = build_context(load_config(None, self.data_dir), self.data_dir)
        self._ctx.engine.recover()
        # IPPROTO_TCP: asyncio turns Nagle off only then (~44 ms per answer otherwise).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen(256)
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(self._ctx),
                log_level="error",
                access_log=False,
                lifespan="off",
            )
        )
        self._server = server
        # Run off the main thread: uvicorn then leaves the CLI's signal handlers alone.
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="embedded-provider", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise SpecRunnerError("the embedded provider did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        self._lock.publish_url(self.url)
        return self

    def _running_url(self) -> str:
        """Another process owns the folder: use its provider rather than open a second one."""
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            url = self._lock.owner_url()
            if url is not None:
                try:
                    httpx.get(url + "/", timeout=2).raise_for_status()
                    return url
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise SpecRunnerError(
            f"{self.data_dir} is used by another specrunner process whose provider does not "
            "answer; wait for it to finish"
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        import uvicorn

        if self._ctx is None:
            return  # another process's provider: nothing of ours to stop
        server = self._server
        if isinstance(server, uvicorn.Server):
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._ctx.engine.shutdown()
        self._ctx.store.close()
        self._lock.release()
