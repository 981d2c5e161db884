"""Provider behaviour that needs a provider of its own: config, paid environments,
provisioning failures (31/32), and a restart after SIGKILL (design §3, State)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from specrunner.ocean.signing import Signer
from tests.acceptance.wire import SLEEPER, WireClient, publish_file, raw_algorithm
from tests.conftest import RunningProvider, start_provider

CONFIG = """\
chainId: 8996
environments:
  - id: free-small
    priceMin: 0
    cpuNumber: 1
    ramGB: 0.5
    diskGB: 0.1
    maxJobs: 2
    maxJobDuration: 120
  - id: paid
    priceMin: 2.5
    feeToken: "0x2473f4F7bf40ed9310838f35e13A0D8D1A1a4b6D"
    maxJobs: 1
"""


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    folder = tmp_path_factory.mktemp("configured")
    config = folder / "provider.yaml"
    config.write_text(CONFIG)
    running = start_provider(folder / "data", config=config)
    yield running
    running.stop()


Consumers = Callable[[str, Signer], WireClient]


@pytest.fixture
def consumers() -> Iterator[Consumers]:
    """Make WireClients that are all closed when the test ends."""
    made: list[WireClient] = []

    def make(url: str, wallet: Signer) -> WireClient:
        made.append(WireClient(url, wallet))
        return made[-1]

    yield make
    for client in made:
        client.http.close()


def _dataset(url: str, tmp_path: Path, text: str = "x,y\n1,2\n") -> str:
    data = tmp_path / "data.csv"
    data.write_text(text)
    return str(publish_file(url, Signer.from_key(os.urandom(32)), data)["id"])


def test_config_environments_are_served(configured: RunningProvider) -> None:
    envs = httpx.get(configured.url + "/api/services/computeEnvironments").json()["8996"]
    assert [(e["id"], e["priceMin"], e["maxJobs"]) for e in envs] == [
        ("free-small", 0, 2),
        ("paid", 2.5, 1),
    ]


def test_paid_environment_quotes_a_fee_and_refuses_unpaid_starts(
    configured: RunningProvider, tmp_path: Path, wallet: Signer
) -> None:
    with WireClient(configured.url, wallet) as client:
        _paid_start_refused(client, configured.url, tmp_path)


def _paid_start_refused(client: WireClient, url: str, tmp_path: Path) -> None:
    did = _dataset(url, tmp_path)
    quote = client.order(did, "compute", "paid")["datasets"][0]
    assert "validOrder" not in quote
    fee = quote["providerFee"]
    assert fee["providerFeeToken"] == "0x2473f4F7bf40ed9310838f35e13A0D8D1A1a4b6D"
    assert int(fee["providerFeeAmount"]) > 0 and fee["v"] in (27, 28)
    body = client.start_body(
        {"documentId": did, "serviceId": "compute", "transferTxId": "0x" + "12" * 32},
        raw_algorithm("print(1)"),
        "paid",
    )
    response = client.start(body)
    assert response.status_code == 400
    assert response.json() == {"error": {"dataset.serviceId": "order_invalid"}}


def test_order_for_another_environment_is_invalid(
    configured: RunningProvider, tmp_path: Path, wallet: Signer, consumers: Consumers
) -> None:
    client = consumers(configured.url, wallet)
    did = _dataset(configured.url, tmp_path)
    order = client.order(did, "compute", "free-small")["datasets"][0]["validOrder"]
    body = client.start_body(
        {"documentId": did, "serviceId": "compute", "transferTxId": order},
        raw_algorithm("print(1)"),
        "paid",
    )
    assert client.start(body).json() == {"error": {"dataset.serviceId": "order_invalid"}}


def test_missing_data_ends_at_31_and_unreachable_algorithm_at_32(
    configured: RunningProvider, tmp_path: Path, wallet: Signer, consumers: Consumers
) -> None:
    client = consumers(configured.url, wallet)
    text = f"unique {os.urandom(8).hex()}\n"
    did = _dataset(configured.url, tmp_path, text)
    import hashlib

    stored = configured.data_dir / "files" / hashlib.sha256(text.encode()).hexdigest()
    order = client.order(did, "compute", "free-small")["datasets"][0]["validOrder"]
    stored.unlink()
    body = client.start_body(
        {"documentId": did, "serviceId": "compute", "transferTxId": order},
        raw_algorithm("print(1)"),
        "free-small",
    )
    job = client.wait(client.start(body).json()[0]["jobId"])
    assert (job["status"], job["statusText"]) == (31, "Data provisioning failed")
    assert [r["type"] for r in job["results"]] == ["configrationLog", "publishLog"]
    assert b"provisioning failed" in client.result(job["jobId"], 0).content

    good = _dataset(configured.url, tmp_path, "fine\n")
    order = client.order(good, "compute", "free-small")["datasets"][0]["validOrder"]
    algorithm = {
        "meta": {
            **raw_algorithm("")["meta"],
            "rawcode": "",
            "url": "http://127.0.0.1:9/algorithm.py",
        }
    }
    body = client.start_body(
        {"documentId": good, "serviceId": "compute", "transferTxId": order}, algorithm, "free-small"
    )
    job = client.wait(client.start(body).json()[0]["jobId"])
    assert (job["status"], job["statusText"]) == (32, "Algorithm provisioning failed")


def test_restart_after_sigkill_ends_interrupted_jobs_and_keeps_state(
    tmp_path: Path, wallet: Signer, consumers: Consumers
) -> None:
    data_dir = tmp_path / "provider"
    first = start_provider(data_dir)
    client = consumers(first.url, wallet)
    did = _dataset(first.url, tmp_path)
    env = client.environment()
    order = client.order(did, "compute", env)["datasets"][0]["validOrder"]
    body = client.start_body(
        {"documentId": did, "serviceId": "compute", "transferTxId": order},
        raw_algorithm(SLEEPER),
        env,
    )
    job_id = client.start(body).json()[0]["jobId"]
    client.wait_status(job_id, 40)
    os.kill(first.process.pid, signal.SIGKILL)
    first.stop()

    second = start_provider(data_dir)
    try:
        client = consumers(second.url, wallet)
        job = client.wait(job_id, timeout=20)
        assert job["status"] == 70
        assert job["terminationDetails"]["reason"] == "provider-restart"
        assert "algorithmLog" in [r["type"] for r in job["results"]]
        assert httpx.get(f"{second.url}/api/aquarius/assets/ddo/{did}").status_code == 200
        replay = client.start(body)
        assert replay.status_code == 400 and "nonce" in replay.json()["errors"]["signature"]
    finally:
        second.stop()


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    config = tmp_path / "bad.yaml"
    config.write_text("environments:\n  - id: a\n    maxJobs: zero\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "specrunner",
            "provider",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "d"),
            "--config",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert "environments.0.maxJobs" in result.stderr
    assert "Traceback" not in result.stderr
