"""OceanCompute's seven methods against a MockTransport Provider v2 (reference payloads)."""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
import pytest
from eth_account import Account

from specrunner.errors import ProviderError
from specrunner.ocean import signing
from specrunner.ocean.compute import OceanCompute, environments_for_chain, is_free
from specrunner.ocean.models import DDO, AlgorithmMetadata, ComputeInput, Container
from specrunner.ocean.provider import DataServiceProvider
from specrunner.ocean.signing import Signer

from .fake_provider import FINISHED_JOB, STARTED_JOB, URL, FakeProvider, json_response

JOB = STARTED_JOB["jobId"]
DID = "did:op:" + "d3" * 32
DID2 = "did:op:" + "e4" * 32
ALGO_DID = "did:op:" + "a1" * 32


def _asset(did: str, service_type: str = "compute", kind: str = "dataset") -> DDO:
    return DDO.model_validate(
        {
            "id": did,
            "metadata": {"type": kind, "name": did[-4:]},
            "services": [
                {"id": "1", "type": service_type, "serviceEndpoint": URL, "files": "0x00"}
            ],
        }
    )


def _input(did: str, service_type: str = "compute", **kwargs: Any) -> ComputeInput:
    ddo = _asset(did, service_type)
    return ComputeInput(ddo, ddo.services[0], transfer_tx_id="0x" + did[-4:], **kwargs)


RAW = AlgorithmMetadata(
    rawcode="print('hi')",
    language="python",
    format="docker-image",
    version="0.1",
    container=Container(entrypoint="python3 $ALGO", image="python", tag="3.11"),
)


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def ocean(fake: FakeProvider) -> OceanCompute:
    return OceanCompute(data_provider=DataServiceProvider(fake.client(), sleep=lambda _: None))


@pytest.fixture
def wallet() -> Signer:
    return Signer.from_key("0x" + "22" * 32)


def test_signatures_are_the_seeds() -> None:
    expected = {
        "start": [
            "consumer_wallet",
            "dataset",
            "compute_environment",
            "algorithm",
            "algorithm_meta",
            "algorithm_algocustomdata",
            "additional_datasets",
        ],
        "status": ["ddo", "service", "job_id", "wallet"],
        "result": ["ddo", "service", "job_id", "index", "wallet"],
        "compute_job_result_logs": ["ddo", "service", "job_id", "wallet", "log_type"],
        "stop": ["ddo", "service", "job_id", "wallet"],
        "get_c2d_environments": ["service_endpoint", "chain_id"],
        "get_free_c2d_environment": ["service_endpoint", "chain_id"],
    }
    for name, params in expected.items():
        found = list(inspect.signature(getattr(OceanCompute, name)).parameters)[1:]
        assert found == params, name
    logs = inspect.signature(OceanCompute.compute_job_result_logs).parameters["log_type"]
    assert logs.default == "output"
    assert list(inspect.signature(OceanCompute).parameters) == ["config", "data_provider"]


# -- start --


def test_start_with_raw_algorithm_sends_the_provider_v2_body(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("POST", "/api/services/compute", json_response(200, [STARTED_JOB]))
    custom = {"threshold": 3, "label": "x"}
    job_id = ocean.start(
        wallet,
        _input(DID, userdata={"rows": 5}),
        "ocean-compute",
        algorithm_meta=RAW,
        algorithm_algocustomdata=custom,
        additional_datasets=[_input(DID2)],
    )
    assert job_id == JOB
    request = fake.sent("POST", "/api/services/compute")[0]
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert set(body) == {
        "dataset",
        "environment",
        "algorithm",
        "consumerAddress",
        "nonce",
        "signature",
        "additionalDatasets",
    }
    assert body["dataset"] == {
        "documentId": DID,
        "serviceId": "1",
        "transferTxId": "0x" + DID[-4:],
        "userdata": {"rows": 5},
    }
    assert body["additionalDatasets"] == [
        {"documentId": DID2, "serviceId": "1", "transferTxId": "0x" + DID2[-4:]}
    ]
    assert body["environment"] == "ocean-compute"
    # §5.2: meta without `format`; custom data next to meta, where the Provider reads it.
    assert set(body["algorithm"]) == {"meta", "algocustomdata"}
    assert body["algorithm"]["algocustomdata"] == custom
    assert "format" not in body["algorithm"]["meta"]
    assert body["algorithm"]["meta"]["rawcode"] == "print('hi')"
    assert body["algorithm"]["meta"]["container"]["entrypoint"] == "python3 $ALGO"
    assert signing.verify(wallet.address, f"{wallet.address}{DID}2", body["signature"])


def test_start_with_published_algorithm_carries_its_order_and_custom_data(
    fake: FakeProvider, ocean: OceanCompute
) -> None:
    fake.on("POST", "/api/services/compute", json_response(200, [STARTED_JOB]))
    algorithm = ComputeInput(
        _asset(ALGO_DID, kind="algorithm"),
        _asset(ALGO_DID).services[0],
        transfer_tx_id="0xalgo",
        userdata={"u": 1},
    )
    account = Account.from_key("0x" + "33" * 32)  # an eth-account LocalAccount works too
    ocean.start(account, _input(DID), "env", algorithm=algorithm, algorithm_algocustomdata={})
    body = json.loads(fake.sent("POST", "/api/services/compute")[0].content)
    assert body["algorithm"] == {
        "documentId": ALGO_DID,
        "serviceId": "1",
        "transferTxId": "0xalgo",
        "userdata": {"u": 1},
        "algouserdata": {"u": 1},
        "algocustomdata": {},
    }
    assert body["additionalDatasets"] == []
    assert "additionalInputs" not in body
    assert body["consumerAddress"] == account.address


def test_start_refuses_a_service_that_is_not_compute_before_any_request(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    with pytest.raises(ProviderError, match="not a compute service") as caught:
        ocean.start(wallet, _input(DID, "access"), "env", algorithm_meta=RAW)
    assert caught.value.payload == {"dataset.serviceId": "main_service_compute"}
    assert fake.requests == []


@pytest.mark.parametrize("both", [True, False])
def test_start_needs_exactly_one_algorithm(ocean: OceanCompute, wallet: Signer, both: bool) -> None:
    algorithm = _input(ALGO_DID) if both else None
    meta = RAW if both else None
    with pytest.raises(ValueError, match="exactly one"):
        ocean.start(wallet, _input(DID), "env", algorithm=algorithm, algorithm_meta=meta)


def test_start_relays_the_providers_refusal(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    refusal = {"error": {"dataset": "no_raw_algo_allowed"}}
    fake.on("POST", "/api/services/compute", json_response(400, refusal))
    with pytest.raises(ProviderError, match="no_raw_algo_allowed") as caught:
        ocean.start(wallet, _input(DID), "env", algorithm_meta=RAW)
    assert caught.value.payload == refusal and caught.value.status_code == 400


# -- status and stop --


@pytest.mark.parametrize(
    ("status", "text", "ok"),
    [(70, "Job finished", True), (31, "Data provisioning failed", False), (32, "x", False)],
)
def test_status_reports_ok_and_every_job_field(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer, status: int, text: str, ok: bool
) -> None:
    job = {**FINISHED_JOB, "status": status, "statusText": text}
    fake.on("GET", "/api/services/compute", json_response(200, [job]))
    ddo = _asset(DID)
    answer = ocean.status(ddo, ddo.services[0], JOB, wallet)
    assert (answer["ok"], answer["status"], answer["statusText"]) == (ok, status, text)
    assert answer["dateFinished"] == "1700000123.456789"
    assert answer["dateCreated"] == "1700000000.123456"
    assert [r["type"] for r in answer["results"]] == [
        "output",
        "algorithmLog",
        "configrationLog",
        "publishLog",
    ]
    assert answer["jobId"] == JOB and answer["inputDID"] == ["did:op:data"]


def test_status_of_a_running_job_has_an_empty_results_list(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("GET", "/api/services/compute", json_response(200, [STARTED_JOB]))
    ddo = _asset(DID)
    answer = ocean.status(ddo, ddo.services[0], JOB, wallet)
    assert answer["results"] == [] and answer["dateFinished"] is None and answer["ok"] is True


def test_an_empty_status_list_is_a_clear_error(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("GET", "/api/services/compute", json_response(200, []))
    ddo = _asset(DID)
    with pytest.raises(ProviderError, match=f"job {JOB} not found for {wallet.address}"):
        ocean.status(ddo, ddo.services[0], JOB, wallet)
    with pytest.raises(ProviderError, match="not found"):
        ocean.result(ddo, ddo.services[0], JOB, 0, wallet)


def test_an_ocean_node_prefixed_job_id_still_matches(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("GET", "/api/services/compute", json_response(200, [FINISHED_JOB]))
    ddo = _asset(DID)
    assert ocean.status(ddo, ddo.services[0], f"abc123-{JOB}", wallet)["jobId"] == JOB


def test_stop_signs_and_returns_the_job(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("PUT", "/api/services/compute", json_response(200, [{**STARTED_JOB, "status": 40}]))
    ddo = _asset(DID)
    answer = ocean.stop(ddo, ddo.services[0], JOB, wallet)
    assert answer["status"] == 40 and answer["ok"] is True
    params = fake.sent("PUT", "/api/services/compute")[0].url.params
    assert params["documentId"] == DID
    message = f"{wallet.address}{JOB}{DID}{params['nonce']}"
    assert signing.verify(wallet.address, message, params["signature"])


def test_stop_of_someone_elses_job_is_an_error(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("PUT", "/api/services/compute", json_response(200, []))
    ddo = _asset(DID)
    with pytest.raises(ProviderError, match="not found"):
        ocean.stop(ddo, ddo.services[0], JOB, wallet)


# -- results and logs --


def test_result_gives_one_signed_url_and_the_logs_available(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("GET", "/api/services/compute", json_response(200, [FINISHED_JOB]))
    fake.on("GET", "/api/services/computeResult", httpx.Response(200, content=b"pickle"))
    ddo = _asset(DID)
    answer = ocean.result(ddo, ddo.services[0], JOB, 0, wallet)
    assert answer["did"] == DID
    assert answer["results"] == [
        {"filename": "result.pickle", "filesize": 1281, "type": "output", "index": 0}
    ]
    assert [entry["index"] for entry in answer["logs"]] == [1, 2, 3]
    [url] = answer["urls"]
    params = httpx.URL(url).params
    assert params["index"] == "0"
    message = f"{wallet.address}{JOB}0{params['nonce']}"
    assert signing.verify(wallet.address, message, params["signature"])
    assert ocean.download(url) == b"pickle"


def test_result_out_of_range_spends_no_nonce(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("GET", "/api/services/compute", json_response(200, [FINISHED_JOB]))
    ddo = _asset(DID)
    with pytest.raises(ProviderError, match=r"has no result 9; its results: 0=result\.pickle"):
        ocean.result(ddo, ddo.services[0], JOB, 9, wallet)
    assert not fake.sent("GET", "/api/services/nonce")


def test_result_uses_the_providers_explicit_indexes(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    results = [{"filename": "outputs.tar", "filesize": 10, "type": "output", "index": 3}]
    fake.on(
        "GET", "/api/services/compute", json_response(200, [{**FINISHED_JOB, "results": results}])
    )
    ddo = _asset(DID)
    answer = ocean.result(ddo, ddo.services[0], JOB, 3, wallet)
    assert httpx.URL(answer["urls"][0]).params["index"] == "3"


@pytest.mark.parametrize(
    ("log_type", "indexes"),
    [("output", [0]), ("algorithmLog", [1]), ("configrationLog", [2]), ("publishLog", [3])],
)
def test_result_logs_sign_only_matching_indexes(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer, log_type: str, indexes: list[int]
) -> None:
    fake.nonce = "10"
    fake.on("GET", "/api/services/compute", json_response(200, [FINISHED_JOB]))
    ddo = _asset(DID)
    answer = ocean.compute_job_result_logs(ddo, ddo.services[0], JOB, wallet, log_type)
    assert [int(httpx.URL(u).params["index"]) for u in answer["urls"]] == indexes
    assert [entry["index"] for entry in answer["results"]] == indexes
    assert [httpx.URL(u).params["nonce"] for u in answer["urls"]] == ["11"]
    assert len(fake.sent("GET", "/api/services/nonce")) == 1


def test_several_outputs_get_increasing_nonces_in_result_order(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    results = [
        {"filename": "a.txt", "filesize": 1, "type": "output"},
        {"filename": "algorithm.log", "filesize": 1, "type": "algorithmLog"},
        {"filename": "b.txt", "filesize": 1, "type": "output"},
    ]
    fake.on(
        "GET", "/api/services/compute", json_response(200, [{**FINISHED_JOB, "results": results}])
    )
    ddo = _asset(DID)
    answer = ocean.compute_job_result_logs(ddo, ddo.services[0], JOB, wallet)
    params = [httpx.URL(u).params for u in answer["urls"]]
    assert [(p["index"], p["nonce"]) for p in params] == [("0", "2"), ("2", "3")]
    assert [e["filename"] for e in answer["results"]] == ["a.txt", "b.txt"]


def test_no_results_of_that_type_give_empty_urls_and_spend_no_nonce(
    fake: FakeProvider, ocean: OceanCompute, wallet: Signer
) -> None:
    fake.on("GET", "/api/services/compute", json_response(200, [STARTED_JOB]))
    ddo = _asset(DID)
    answer = ocean.compute_job_result_logs(ddo, ddo.services[0], JOB, wallet, "algorithmLog")
    assert answer == {"did": DID, "urls": [], "results": [], "logs": []}
    assert not fake.sent("GET", "/api/services/nonce")


# -- environments (§4.4, §5.4) --

OPERATOR_ENV = {
    "id": "ocean-compute",
    "cpuNumber": 1,
    "cpuType": "",
    "gpuNumber": 0,
    "gpuType": "",
    "ramGB": 1,
    "diskGB": 1,
    "priceMin": 0,
    "desc": "",
    "currentJobs": 0,
    "maxJobs": 10,
    "consumerAddress": "0x3db8d2AEf9A1d1584adD1aDDfb7728fe64d18c3F",
    "storageExpiry": 0,
    "maxJobDuration": "60",
    "lastSeen": "1705855599.640261",
    "feeToken": "0x0000000000000000000000000000000000000001",
}
PAID_ENV = {**OPERATOR_ENV, "id": "paid", "priceMin": "0.5", "cpuNumber": "4"}
STRING_FREE_ENV = {**OPERATOR_ENV, "id": "free-2", "priceMin": "0", "ramGB": "2"}


def test_environments_keyed_by_chain_carry_the_seed_keys(
    fake: FakeProvider, ocean: OceanCompute
) -> None:
    payload = {"8996": [OPERATOR_ENV, PAID_ENV], "1": [STRING_FREE_ENV]}
    fake.on("GET", "/api/services/computeEnvironments", json_response(200, payload))
    envs = ocean.get_c2d_environments(URL, 8996)
    assert [env["id"] for env in envs] == ["ocean-compute", "paid"]
    seed_keys = {"id", "feeToken", "priceMin", "consumerAddress", "lastSeen", "namespace"}
    for env in envs:
        assert seed_keys | {"status"} <= set(env)
        assert env["namespace"] == env["id"]
        assert env["status"] == "ok"
    assert envs[1]["priceMin"] == 0.5 and envs[1]["cpuNumber"] == 4
    assert envs[0]["maxJobDuration"] == 60
    assert fake.sent("GET", "/api/services/computeEnvironments")[0].url.params["chainId"] == "8996"


def test_a_missing_chain_gives_no_environments(fake: FakeProvider, ocean: OceanCompute) -> None:
    fake.on("GET", "/api/services/computeEnvironments", json_response(200, {"8996": [PAID_ENV]}))
    assert ocean.get_c2d_environments(URL, 137) == []
    assert ocean.get_free_c2d_environment(URL, 137) == []


def test_free_environments_are_those_with_price_zero(
    fake: FakeProvider, ocean: OceanCompute
) -> None:
    payload = {"8996": [OPERATOR_ENV, PAID_ENV, STRING_FREE_ENV]}
    fake.on("GET", "/api/services/computeEnvironments", json_response(200, payload))
    assert [e["id"] for e in ocean.get_free_c2d_environment(URL, 8996)] == [
        "ocean-compute",
        "free-2",
    ]


def test_only_paid_environments_give_an_empty_free_list(
    fake: FakeProvider, ocean: OceanCompute
) -> None:
    fake.on("GET", "/api/services/computeEnvironments", json_response(200, {"8996": [PAID_ENV]}))
    assert ocean.get_free_c2d_environment(URL, 8996) == []


def test_a_flat_list_is_accepted_and_filtered_by_allowed_chain() -> None:
    unseen = {"id": "x", "priceMin": 0, "namespace": "ns", "allowedChainId": [1]}
    envs = environments_for_chain([OPERATOR_ENV, unseen], 8996)
    assert [env["id"] for env in envs] == ["ocean-compute"]
    [kept] = environments_for_chain([unseen], 1)
    assert (kept["namespace"], kept["status"], kept["lastSeen"]) == ("ns", "unknown", None)


def test_an_environment_without_price_is_free_only_with_a_free_block() -> None:
    node_env = {"id": "node-env", "consumerAddress": "0x1", "free": {"maxJobDuration": 60}}
    [env] = environments_for_chain([node_env, {"id": "paid-node"}], 1)[:1]
    # Normalised from ocean-node's shape: a free tier means priceMin 0 (§10.2).
    assert env["priceMin"] == 0 and is_free(env)
    [paid] = environments_for_chain([{"id": "paid-node"}], 1)
    assert not is_free(paid)


def test_a_malformed_environment_answer_is_a_provider_error() -> None:
    with pytest.raises(ProviderError):
        environments_for_chain("nope", 1)
    with pytest.raises(ProviderError):
        environments_for_chain({"1": [{"priceMin": 0}]}, 1)  # no id


def test_config_tunes_a_private_client_otherwise_the_shared_one_is_used() -> None:
    shared = OceanCompute().data_provider
    assert OceanCompute({"METADATA_CACHE_URI": "x"}).data_provider is shared
    tuned = OceanCompute({"timeout": 5, "retries": 0}).data_provider
    assert tuned is not shared
