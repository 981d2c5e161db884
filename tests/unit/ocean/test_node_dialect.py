"""Contract tests for the ocean-node dialect (reference §10.2, §10.3).

The double is built only from the reference's documented payloads: ocean-node is a remote
service we cannot run here. Each test pins a request shape ocean-node verifies.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import pytest

from specrunner.errors import ProviderError
from specrunner.ocean.compute import OceanCompute
from specrunner.ocean.models import DDO, AlgorithmMetadata, ComputeInput, JobStatus, Service
from specrunner.ocean.provider import DataServiceProvider
from specrunner.ocean.signing import Signer, verify
from tests.unit.ocean.fake_provider import FakeProvider, json_response

URL = "http://node.test:8000"
PATHS = {
    "computeEnvironments": ["GET", "/api/services/computeEnvironments"],
    "computeStart": ["POST", "/api/services/compute"],
    "freeCompute": ["POST", "/api/services/freeCompute"],
    "computeStatus": ["GET", "/api/services/compute"],
    "computeStop": ["PUT", "/api/services/compute"],
    "computeResult": ["GET", "/api/services/computeResult"],
    "computeStreamableLogs": ["GET", "/api/services/computeStreamableLogs"],
    "nonce": ["GET", "/api/services/nonce"],
}
# §10.2: ocean-node's root document.
ROOT = {
    "nodeId": "16Uiu2HAm",
    "chainIds": ["8996"],
    "providerAddress": "0x" + "ab" * 20,
    "nodePublicKey": "0x02",
    "serviceEndpoints": PATHS,
    "software": "Ocean-Node",
    "version": "0.0.1",
}
# §10.2: an environment with resources, per-chain fees and a free tier.
ENVIRONMENT = {
    "id": "0xhash-docker",
    "consumerAddress": "0x" + "cd" * 20,
    "storageExpiry": 604800,
    "minJobDuration": 60,
    "maxJobDuration": 3600,
    "maxJobs": 3,
    "fees": {
        "8996": [
            {
                "feeToken": "0x" + "ee" * 20,
                "prices": [{"id": "cpu", "price": 1}, {"id": "ram", "price": 0.5}],
            }
        ]
    },
    "resources": [
        {"id": "cpu", "total": 8, "min": 1, "max": 4, "inUse": 0},
        {"id": "ram", "total": 32, "min": 1, "max": 16, "inUse": 0},
        {"id": "disk", "total": 500, "min": 1, "max": 100, "inUse": 0},
        {"id": "nvidia-a100", "type": "gpu", "total": 2, "min": 0, "max": 1},
    ],
    "free": {
        "maxJobDuration": 600,
        "minJobDuration": 10,
        "maxJobs": 1,
        "resources": [{"id": "cpu", "max": 1}],
    },
    "runningJobs": 0,
    "runningfreeJobs": 0,
    "queuedJobs": 0,
}
PAID = {**{k: v for k, v in ENVIRONMENT.items() if k != "free"}, "id": "0xhash-paid"}
# §10.2: a job as ocean-node reports it.
JOB = {
    "owner": "",
    "jobId": "0d3b29ab-12d4-4e89-8ed5-9d6a31b3dc0d",
    "status": 0,
    "statusText": "Job started",
    "dateCreated": "1732000000.1",
    "dateFinished": None,
    "results": [],
    "environment": "0xhash-docker",
    "metadata": {"k": "v"},
    "terminationDetails": {"OOMKilled": False, "exitCode": 0},
    "isFree": True,
}


@pytest.fixture
def wallet() -> Signer:
    return Signer.from_key(os.urandom(32))


@pytest.fixture
def node(wallet: Signer) -> FakeProvider:
    fake = FakeProvider(URL, root=ROOT)
    fake.nonce = "0"  # a new address is at 0 on ocean-node (§10.3)
    fake.on("GET", "/api/services/computeEnvironments", json_response(200, [ENVIRONMENT, PAID]))
    return fake


def _client(node: FakeProvider) -> DataServiceProvider:
    return DataServiceProvider(node.client(), sleep=lambda _: None)


def _signed(request: httpx.Request, wallet: Signer, command: str, body: dict[str, Any]) -> None:
    """The signature is over consumerAddress + nonce + command (§10.2), nonce stored + 1."""
    assert body["nonce"] == "1"
    assert verify(wallet.address, f"{wallet.address}1{command}", body["signature"])


def _dataset(did: str) -> ComputeInput:
    service = Service(id="svc", type="compute", serviceEndpoint=URL)
    return ComputeInput(DDO(id=did, services=[service]), service, transfer_tx_id=None)


def test_dialect_is_read_from_the_root(node: FakeProvider) -> None:
    assert _client(node).root(URL).dialect == "ocean-node"


def test_environments_are_normalised_so_selectors_mean_the_same(node: FakeProvider) -> None:
    ocean = OceanCompute(data_provider=_client(node))
    free, paid = ocean.get_c2d_environments(URL, 8996)
    assert (free["cpuNumber"], free["ramGB"], free["diskGB"], free["gpuNumber"]) == (4, 16, 100, 1)
    assert free["priceMin"] == 0 and free["maxJobs"] == 1 and free["maxJobDuration"] == 600
    assert paid["priceMin"] == 1.5  # cpu 1 x min 1 + ram 0.5 x min 1, per minute
    assert paid["feeToken"] == "0x" + "ee" * 20
    assert [env["id"] for env in ocean.get_free_c2d_environment(URL, 8996)] == ["0xhash-docker"]


def test_free_start_sends_a_datasets_list_signed_with_the_command(
    node: FakeProvider, wallet: Signer
) -> None:
    def started(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        _signed(request, wallet, "freeStartCompute", body)
        assert [d["documentId"] for d in body["datasets"]] == ["did:op:a", "did:op:b"]
        assert "dataset" not in body and "additionalDatasets" not in body
        assert body["algorithm"]["meta"]["rawcode"] == "print(1)"
        assert body["algorithm"]["algocustomdata"] == {"x": 1}
        assert (body["environment"], body["consumerAddress"]) == ("0xhash-docker", wallet.address)
        return json_response(200, [{**JOB, "jobId": "0xhash-" + JOB["jobId"]}])

    node.on("POST", "/api/services/freeCompute", started)
    meta = AlgorithmMetadata(
        rawcode="print(1)", container={"entrypoint": "python3 $ALGO", "image": "python", "tag": "3"}
    )
    job_id = OceanCompute(data_provider=_client(node)).start(
        wallet,
        _dataset("did:op:a"),
        "0xhash-docker",
        algorithm_meta=meta,
        algorithm_algocustomdata={"x": 1},
        additional_datasets=[_dataset("did:op:b")],
    )
    assert job_id == "0xhash-" + JOB["jobId"]
    assert node.sent("POST", "/api/services/compute") == []


def test_status_matches_the_bare_id_and_stop_signs_in_the_query(
    node: FakeProvider, wallet: Signer
) -> None:
    node.on("GET", "/api/services/compute", json_response(200, [JOB]))

    def stopped(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        _signed(request, wallet, "stopCompute", params)
        assert params["jobId"] == "0xhash-" + JOB["jobId"] and not request.content
        return json_response(200, [{**JOB, "stopRequested": True}])

    node.on("PUT", "/api/services/compute", stopped)
    ocean = OceanCompute(data_provider=_client(node))
    ddo = DDO(id="did:op:a", services=[Service(id="svc", type="compute", serviceEndpoint=URL)])
    status = ocean.status(ddo, ddo.services[0], "0xhash-" + JOB["jobId"], wallet)
    assert (status["status"], status["statusText"], status["ok"]) == (0, "Job started", True)
    assert ocean.stop(ddo, ddo.services[0], "0xhash-" + JOB["jobId"], wallet)["jobId"]


def test_result_urls_are_signed_with_the_command(node: FakeProvider, wallet: Signer) -> None:
    (url,) = _client(node).compute_result_urls(URL, wallet, JOB["jobId"], [3])
    params = dict(httpx.URL(url).params)
    assert (params["index"], params["jobId"]) == ("3", JOB["jobId"])
    assert verify(
        wallet.address, f"{wallet.address}{params['nonce']}getComputeResult", params["signature"]
    )


def test_live_logs_stream_and_a_finished_job_is_a_clear_error(
    node: FakeProvider, wallet: Signer
) -> None:
    def logs(request: httpx.Request) -> httpx.Response:
        _signed(request, wallet, "getComputeStreamableLogs", dict(request.url.params))
        return httpx.Response(200, content=b"line 1\nline 2\n")

    node.on("GET", "/api/services/computeStreamableLogs", logs)
    assert b"".join(_client(node).stream_logs(URL, wallet, "j")) == b"line 1\nline 2\n"
    node.on(
        "GET",
        "/api/services/computeStreamableLogs",
        httpx.Response(404, content=b"Job not found or not running"),
    )
    with pytest.raises(ProviderError, match="not running"):
        b"".join(_client(node).stream_logs(URL, wallet, "j"))


@pytest.mark.parametrize(
    ("status", "ok"),
    [(41, False), (2, False), (62, False), (71, True), (70, True), (40, True), (31, False)],
)
def test_failure_codes_of_both_dialects(status: int, ok: bool) -> None:
    assert JobStatus(jobId="j", status=status).ok is ok
