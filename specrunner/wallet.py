"""Where a signing key comes from: the environment, or a local development key.

`SPECRUNNER_PRIVATE_KEY` wins when set. Otherwise a key is created once under
`.specrunner/` with mode 0600 and reused. A key never appears in output or errors.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from specrunner.errors import WalletError
from specrunner.ocean.signing import Signer, new_private_key

ENV_VAR = "SPECRUNNER_PRIVATE_KEY"
DEV_KEY_FILE = "wallet.key"


@dataclass(frozen=True)
class LoadedWallet:
    signer: Signer
    source: str  # "environment" or the key file's path
    created: bool = False


def load_wallet(home: Path = Path(".specrunner"), env_var: str = ENV_VAR) -> LoadedWallet:
    """The signing wallet; raises WalletError for a malformed or unsafely stored key."""
    value = os.environ.get(env_var)
    if value:
        return LoadedWallet(_signer(value.strip(), f"${env_var}"), "environment")
    path = home / DEV_KEY_FILE
    created = False
    if not path.exists():
        _create_key_file(path)
        created = True
    return LoadedWallet(_read_key_file(path), str(path), created)


def _signer(text: str, where: str) -> Signer:
    try:
        return Signer.from_key(text)
    except ValueError:
        raise WalletError(f"{where} does not hold a valid private key") from None


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    with os.fdopen(fd, "w") as handle:
        handle.write(new_private_key() + "\n")


def _read_key_file(path: Path) -> Signer:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WalletError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )
    return _signer(path.read_text(encoding="utf-8").strip(), str(path))
