"""One provider per data folder: an exclusive lock, and the address of the one that has it.

A second process that wants the same folder (a `plan` while an `apply` runs on the
embedded provider) must not open its database and "recover" jobs that are running fine
in the first; it talks to the first provider at the address recorded here instead.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from specrunner.atomic import write_atomic

LOCK_NAME = "provider.lock"
URL_NAME = "provider.url"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        """True when this process now owns the folder (kept until `release` or exit)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        # A previous owner killed with -9 left its address: nobody may use it any more.
        (self.data_dir / URL_NAME).unlink(missing_ok=True)
        return True

    @property
    def held(self) -> bool:
        """True while this process owns the folder."""
        return self._fd is not None

    def publish_url(self, url: str) -> None:
        write_atomic(self.data_dir / URL_NAME, (url + "\n").encode())

    def owner_url(self) -> str | None:
        """The address of the provider that owns the folder, when it has said one."""
        try:
            return (self.data_dir / URL_NAME).read_text().strip() or None
        except OSError:
            return None

    def release(self) -> None:
        if self._fd is not None:
            (self.data_dir / URL_NAME).unlink(missing_ok=True)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
