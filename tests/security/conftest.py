"""A provider with small limits, and a `Lab` that runs raw algorithms on it over HTTP."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from specrunner.ocean.signing import Signer
from tests.acceptance.wire import WireClient, publish_file, raw_algorithm
from tests.conftest import RunningProvider, start_provider

# `tight` is where limits are hit; `roomy` runs the probes and the bystanders that must
# outlive a neighbour's limit kill; `open` allows network, to prove the probe can connect.
CONFIG = """\
chainId: 8996
environments:
  - id: tight
    cpuNumber: 1
    ramGB: 0.125
    diskGB: 0.001
    maxProcesses: 16
    maxJobs: 2
    maxJobDuration: 3
  - id: roomy
    cpuNumber: 1
    ramGB: 0.5
    diskGB: 0.1
    maxJobs: 3
    maxJobDuration: 60
  - id: open
    cpuNumber: 1
    ramGB: 0.5
    diskGB: 0.1
    maxJobs: 1
    maxJobDuration: 30
    allowNetwork: true
"""

# Put in the provider's environment: no algorithm may read it back.
PROVIDER_SECRET = "provider-env-secret-" + os.urandom(8).hex()


@pytest.fixture(scope="session")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    folder = tmp_path_factory.mktemp("limited")
    config = folder / "provider.yaml"
    config.write_text(CONFIG)
    saved = os.environ.get("SPECRUNNER_TEST_SECRET")
    os.environ["SPECRUNNER_TEST_SECRET"] = PROVIDER_SECRET
    try:
        running = start_provider(folder / "data", config=config)
    finally:
        if saved is None:
            del os.environ["SPECRUNNER_TEST_SECRET"]
        else:
            os.environ["SPECRUNNER_TEST_SECRET"] = saved
    yield running
    running.stop()


class Lab:
    """One consumer wallet on the limited provider, running raw Python algorithms."""

    def __init__(self, provider: RunningProvider, folder: Path) -> None:
        self.provider = provider
        self.folder = folder
        self.wallet = Signer.from_key(os.urandom(32))
        self.client = WireClient(provider.url, self.wallet)
        self._datasets: dict[tuple[str, bool], str] = {}

    def close(self) -> None:
        self.client.http.close()

    def dataset(self, text: str = "a,b\n1,2\n", network: bool = False) -> str:
        key = (text, network)
        if key not in self._datasets:
            path = self.folder / f"data-{len(self._datasets)}.csv"
            path.write_text(text)
            publisher = Signer.from_key(os.urandom(32))
            ddo = publish_file(self.provider.url, publisher, path, network=network)
            self._datasets[key] = str(ddo["id"])
        return self._datasets[key]

    def start(
        self,
        code: str,
        env: str,
        custom: dict[str, Any] | None = None,
        dataset: str | None = None,
    ) -> str:
        did = dataset or self.dataset()
        order = self.client.order(did, "compute", env)["datasets"][0]["validOrder"]
        body = self.client.start_body(
            {"documentId": did, "serviceId": "compute", "transferTxId": order},
            raw_algorithm(code),
            env,
        )
        if custom is not None:
            body["algorithm"]["algocustomdata"] = custom
        response = self.client.start(body)
        assert response.status_code == 200, response.text
        return str(response.json()[0]["jobId"])

    def run(self, code: str, env: str, **kwargs: Any) -> dict[str, Any]:
        return self.client.wait(self.start(code, env, **kwargs), timeout=90)

    def file(self, job: dict[str, Any], result_type: str, name: str | None = None) -> bytes:
        entry = next(
            r
            for r in job["results"]
            if r["type"] == result_type and (name is None or r["filename"] == name)
        )
        response = self.client.result(job["jobId"], entry["index"])
        assert response.status_code == 200, response.text
        return response.content

    def log(self, job: dict[str, Any]) -> str:
        return self.file(job, "algorithmLog").decode(errors="replace")

    def report(self, job: dict[str, Any]) -> Any:
        return json.loads(self.file(job, "output", "report.json"))


@pytest.fixture
def lab(limited: RunningProvider, tmp_path: Path) -> Iterator[Lab]:
    made = Lab(limited, tmp_path)
    yield made
    made.close()
