"""Our provider speaking ocean-node (reference §10), driven by our client over HTTP."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from specrunner.errors import ProviderError
from specrunner.ocean.compute import OceanCompute
from specrunner.ocean.models import DDO, AlgorithmMetadata, ComputeInput
from specrunner.ocean.provider import DataServiceProvider
from specrunner.ocean.signing import Signer
from tests.acceptance.wire import SHOW_INPUTS, SLEEPER, publish_file
from tests.conftest import RunningProvider, start_provider


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProvider]:
    folder = tmp_path_factory.mktemp("node")
    config = folder / "node.yaml"
    config.write_text(
        "dialect: ocean-node\nenvironments:\n"
        "  - {id: free-env, maxJobs: 3, maxJobDuration: 120}\n"
        "  - {id: paid-env, priceMin: 1}\n"
    )
    running = start_provider(folder / "data", config=config)
    yield running
    running.stop()


@pytest.fixture
def ocean() -> Iterator[OceanCompute]:
    client = DataServiceProvider()
    yield OceanCompute(data_provider=client)
    client.close()


def _dataset(node: RunningProvider, tmp_path: Path, name: str, text: str) -> ComputeInput:
    path = tmp_path / name
    path.write_text(text)
    ddo = DDO.model_validate(publish_file(node.url, Signer.from_key(os.urandom(32)), path))
    return ComputeInput(ddo, ddo.services[0])


def _meta(code: str) -> AlgorithmMetadata:
    return AlgorithmMetadata(
        rawcode=code, container={"entrypoint": "python3 $ALGO", "image": "python", "tag": "3.11"}
    )


def _wait(
    ocean: OceanCompute,
    data: ComputeInput,
    job_id: str,
    wallet: Signer,
    until: str = "dateFinished",
    timeout: float = 60,
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = ocean.status(data.ddo, data.service, job_id, wallet)
        if status.get(until) or (until == "running" and status["status"] == 40):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {until}")


def test_root_and_environments_are_ocean_node_shaped(
    node: RunningProvider, ocean: OceanCompute
) -> None:
    root = httpx.get(node.url + "/").json()
    assert root["software"] == "Ocean-Node" and root["chainIds"] == ["8996"]
    raw = httpx.get(node.url + "/api/services/computeEnvironments").json()
    assert isinstance(raw, list) and "free" in raw[0] and "free" not in raw[1]
    assert {r["id"] for r in raw[0]["resources"]} == {"cpu", "ram", "disk"}
    free = ocean.get_free_c2d_environment(node.url, 8996)
    assert [env["id"] for env in free] == ["free-env"]


def test_free_job_with_two_datasets_custom_data_and_an_outputs_tar(
    node: RunningProvider, ocean: OceanCompute, tmp_path: Path, wallet: Signer
) -> None:
    first = _dataset(node, tmp_path, "a.txt", "first\n")
    second = _dataset(node, tmp_path, "b.txt", "second\n")
    job_id = ocean.start(
        wallet,
        first,
        "free-env",
        algorithm_meta=_meta(SHOW_INPUTS),
        algorithm_algocustomdata={"k": 7},
        additional_datasets=[second],
    )
    status = _wait(ocean, first, job_id, wallet)
    assert (status["status"], status["statusText"], status["ok"]) == (70, "Job finished", True)
    results = ocean.compute_job_result_logs(first.ddo, first.service, job_id, wallet, "output")
    (tar_url,) = results["urls"]
    with tarfile.open(fileobj=io.BytesIO(ocean.download(tar_url))) as tar:
        member = tar.extractfile("report.json")
        assert member is not None
        report = json.loads(member.read())
    assert report["custom"] == {"k": 7}
    assert report["inputs"] == {first.did[7:]: ["first\n"], second.did[7:]: ["second\n"]}
    assert report["dids"] == [first.did[7:], second.did[7:]]
    logs = ocean.compute_job_result_logs(first.ddo, first.service, job_id, wallet, "algorithmLog")
    assert ocean.download(logs["urls"][0]) == b"algorithm ran on 2 dataset(s)\n"


def test_live_logs_stream_while_running_and_stop_ends_the_job(
    node: RunningProvider, ocean: OceanCompute, tmp_path: Path, wallet: Signer
) -> None:
    data = _dataset(node, tmp_path, "c.txt", "x\n")
    job_id = ocean.start(wallet, data, "free-env", algorithm_meta=_meta(SLEEPER))
    _wait(ocean, data, job_id, wallet, until="running")
    stream = ocean.data_provider.stream_logs(node.url, wallet, job_id)
    assert next(stream).startswith(b"sleeping")
    stream.close()
    stopped = ocean.stop(data.ddo, data.service, job_id, wallet)
    assert stopped["stopRequested"] is True
    final = _wait(ocean, data, job_id, wallet)
    assert (final["status"], final["stopRequested"]) == (70, True)
    with pytest.raises(ProviderError, match="not running"):
        b"".join(ocean.data_provider.stream_logs(node.url, wallet, job_id))


def test_a_job_killed_by_its_time_limit_ends_at_41(
    node: RunningProvider, ocean: OceanCompute, tmp_path: Path, wallet: Signer
) -> None:
    data = _dataset(node, tmp_path, "e.txt", "z\n")
    payload = {
        "dataset": data.as_dictionary(),
        "environment": "free-env",
        "algorithm": _meta(SLEEPER).as_dictionary(),
        "maxJobDuration": 1,
    }
    job = ocean.data_provider.start_compute(node.url, wallet, payload)
    final = _wait(ocean, data, job.jobId, wallet)
    assert (final["status"], final["statusText"], final["ok"]) == (
        41,
        "Failed to run algorithm",
        False,
    )
    assert final["terminationDetails"]["reason"] == "timeout"


def test_refusals_are_json_strings(
    node: RunningProvider, ocean: OceanCompute, tmp_path: Path, wallet: Signer, other_wallet: Signer
) -> None:
    data = _dataset(node, tmp_path, "d.txt", "y\n")
    with pytest.raises(ProviderError, match="no free tier"):
        ocean.start(wallet, data, "paid-env", algorithm_meta=_meta("print(1)"))
    job_id = ocean.start(wallet, data, "free-env", algorithm_meta=_meta("print(1)"))
    _wait(ocean, data, job_id, wallet)
    assert (
        httpx.get(
            node.url + "/api/services/compute",
            params={"consumerAddress": other_wallet.address, "jobId": job_id},
        ).json()
        == []
    )
    with pytest.raises(ProviderError, match="not found"):
        ocean.result(data.ddo, data.service, job_id, 0, other_wallet)
    forged = httpx.post(
        node.url + "/api/services/freeCompute",
        json={
            "consumerAddress": wallet.address,
            "nonce": "999",
            "environment": "free-env",
            "signature": other_wallet.sign(f"{wallet.address}999freeStartCompute"),
            "datasets": [{"documentId": data.did, "serviceId": data.service_id}],
            "algorithm": _meta("print(1)").as_dictionary(),
        },
    )
    assert forged.status_code == 401 and forged.json() == "Invalid signature"


def test_live_logs_never_follow_a_link_the_algorithm_planted(
    node: RunningProvider, ocean: OceanCompute, tmp_path: Path, wallet: Signer
) -> None:
    data = _dataset(node, tmp_path, "f.txt", "z\n")
    planter = (
        "import os, time\nos.remove('/data/logs/algorithm.log')\n"
        "os.symlink('../../../../provider.key', '/data/logs/algorithm.log')\n"
        "time.sleep(20)\n"
    )
    job_id = ocean.start(wallet, data, "free-env", algorithm_meta=_meta(planter))
    _wait(ocean, data, job_id, wallet, until="running")
    key = (node.data_dir / "provider.key").read_text().strip()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the link is in place
        link = node.data_dir / "jobs" / job_id / "data" / "logs" / "algorithm.log"
        if link.is_symlink():
            break
        time.sleep(0.05)
    with pytest.raises(ProviderError, match="not running"):
        leaked = b"".join(ocean.data_provider.stream_logs(node.url, wallet, job_id))
        assert key.encode() not in leaked
    ocean.stop(data.ddo, data.service, job_id, wallet)


def test_a_non_ascii_digit_index_is_a_4xx(
    node: RunningProvider, ocean: OceanCompute, tmp_path: Path, wallet: Signer
) -> None:
    data = _dataset(node, tmp_path, "g.txt", "z\n")
    job_id = ocean.start(wallet, data, "free-env", algorithm_meta=_meta("print(1)"))
    _wait(ocean, data, job_id, wallet)
    (url,) = ocean.data_provider.compute_result_urls(node.url, wallet, job_id, [0])
    response = httpx.get(url.replace("index=0", "index=%C2%B2"))
    assert 400 <= response.status_code < 500
