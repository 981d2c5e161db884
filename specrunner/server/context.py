"""What every request handler needs, built once per provider."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from specrunner.ocean import signing
from specrunner.server.assets import AssetRegistry, FileCipher
from specrunner.server.config import EnvironmentConfig, ProviderConfig
from specrunner.server.engine import Engine
from specrunner.server.orders import OrderBook
from specrunner.server.store import Store

PROVIDER_VERSION = "2.1.6"


@dataclass
class ProviderContext:
    config: ProviderConfig
    data_dir: Path
    store: Store
    registry: AssetRegistry
    orders: OrderBook
    engine: Engine
    signer: signing.Signer

    def env_address(self, env: EnvironmentConfig) -> str:
        """The environment's `consumerAddress`: the provider's own account (reference §5.4)."""
        return self.signer.address


def load_provider_key(data_dir: Path) -> signing.Signer:
    """The provider's own key, created once in the data folder with mode 0600."""
    path = data_dir / "provider.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(signing.new_private_key() + "\n")
    return signing.Signer.from_key(path.read_text().strip())


def build_context(config: ProviderConfig, data_dir: Path) -> ProviderContext:
    # Absolute: the sandbox binds job folders by path from another mount namespace.
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    signer = load_provider_key(data_dir)
    store = Store(data_dir / "provider.db")
    key = signing.keccak256(b"specrunner-files" + bytes.fromhex(signer.address[2:]))
    cipher_key = signing.keccak256(key + (data_dir / "provider.key").read_bytes())
    registry = AssetRegistry(store, data_dir / "files", FileCipher(cipher_key), config.chainId)
    orders = OrderBook(store, signer, config.orderTimeout)
    engine = Engine(store, config, data_dir / "jobs", data_dir / "files")
    return ProviderContext(config, data_dir, store, registry, orders, engine, signer)
