"""The embedded provider, started in-process on a free loopback port (design §4).

Specs without a `provider:` run here, with the provider's data in `.specrunner/provider`
of the current directory, so published local datasets and finished jobs persist.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from specrunner.errors import SpecRunnerError

if TYPE_CHECKING:
    from specrunner.server.datadir import DataDirLock
    from specrunner.server.runner import ProviderRunner

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
        self._runner: ProviderRunner | None = None

    def __enter__(self) -> EmbeddedProvider:
        from specrunner.server.runner import FolderInUseError, ProviderRunner

        try:
            runner = ProviderRunner.open(self.data_dir)
        except FolderInUseError as exc:
            if not self.allow_shared:
                raise SpecRunnerError(
                    f"{self.data_dir} is in use by another specrunner process; wait for it "
                    "to finish (jobs on its provider end when it does)"
                ) from exc
            self.url = self._running_url(exc.lock)
            return self
        try:
            self.url = runner.bind("127.0.0.1", 0, backlog=256)
            runner.start(timeout=self.startup_timeout)
        except BaseException:
            runner.close()
            raise
        self._runner = runner
        return self

    def _running_url(self, lock: DataDirLock) -> str:
        """Another process owns the folder: use its provider rather than open a second one."""
        import httpx

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            url = lock.owner_url()
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
        if self._runner is not None:  # None: another process's provider, nothing to stop
            self._runner.close()
            self._runner = None
