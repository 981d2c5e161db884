"""Shared fixtures: the real embedded provider on a loopback port, and wallets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from specrunner.ocean.signing import Signer
from specrunner.server.ready import await_ready


@dataclass
class RunningProvider:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_provider(
    data_dir: Path, config: Path | None = None, timeout: float = 30.0
) -> RunningProvider:
    """Start `specrunner provider serve --port 0` and wait for its ready line."""
    command = [
        sys.executable,
        "-m",
        "specrunner",
        "provider",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
    ]
    if config is not None:
        command += ["--config", str(config)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    running = RunningProvider(url=await_ready(process, timeout), data_dir=data_dir, process=process)
    httpx.get(running.url + "/", timeout=5).raise_for_status()
    return running


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    """One real provider for the whole session (tests use fresh wallets to stay apart)."""
    running = start_provider(tmp_path_factory.mktemp("provider"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def node_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    """The same provider speaking the ocean-node dialect (reference §10)."""
    folder = tmp_path_factory.mktemp("node-provider")
    config = folder / "node.yaml"
    config.write_text("dialect: ocean-node\n")
    running = start_provider(folder / "data", config=config)
    yield running
    running.stop()


@pytest.fixture
def provider_url(provider: RunningProvider) -> str:
    return provider.url


@pytest.fixture
def wallet() -> Signer:
    """A fresh consumer wallet per test, so tests never see each other's jobs."""
    return Signer.from_key(os.urandom(32))


@pytest.fixture
def other_wallet() -> Signer:
    return Signer.from_key(os.urandom(32))
