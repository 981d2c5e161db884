"""DataServiceProvider against a MockTransport speaking the reference's Provider v2 payloads."""

from __future__ import annotations

import hashlib
import json
import socket
from typing import Any

import httpx
import pytest

from specrunner.errors import ProviderError, ProviderUnreachableError
from specrunner.ocean import signing
from specrunner.ocean.models import AlgorithmMetadata
from specrunner.ocean.provider import (
    PROVIDER_V2,
    DataServiceProvider,
    describe_error_body,
    get_root_uri,
    parse_nonce,
)
from specrunner.ocean.signing import Signer

from .fake_provider import FINISHED_JOB, ROOT_BODY, STARTED_JOB, URL, FakeProvider, json_response

KEY = "0x" + "11" * 32
JOB = STARTED_JOB["jobId"]
DID = "did:op:d32696f71f3318c92bcf325e2e51e6e8299c0eb6d362ddcfa77d2a3e0c1237b5"


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def dsp(fake: FakeProvider, sleeps: list[float]) -> DataServiceProvider:
    return DataServiceProvider(fake.client(), retries=3, backoff=0.1, sleep=sleeps.append)


@pytest.fixture
def signer() -> Signer:
    return Signer.from_key(KEY)


# -- root discovery (§2) --


@pytest.mark.parametrize(
    ("endpoint", "root"),
    [
        ("http://h:8030", "http://h:8030"),
        ("http://h:8030/", "http://h:8030"),
        ("https://h/api/services/compute", "https://h"),
        ("https://v4.provider.oceanprotocol.com/api", "https://v4.provider.oceanprotocol.com"),
        ("https://h/provider/api/services/x", "https://h/provider"),
        ("https://h/x/services/compute", "https://h/x"),
    ],
)
def test_root_uri_is_cut_like_ocean_py(endpoint: str, root: str) -> None:
    assert get_root_uri(endpoint) == root


@pytest.mark.parametrize("endpoint", ["", "provider.test", "ftp://h/x", "http:/"])
def test_root_uri_refuses_what_is_not_a_url(endpoint: str) -> None:
    with pytest.raises(ProviderError, match="not a provider URL"):
        get_root_uri(endpoint)


def test_root_is_fetched_once_per_provider(fake: FakeProvider, dsp: DataServiceProvider) -> None:
    fake.on("GET", "/api/services/computeEnvironments", json_response(200, {"8996": []}))
    fake.on("GET", "/api/services/compute", json_response(200, [STARTED_JOB]))
    dsp.compute_environments(URL, 8996)
    dsp.compute_environments(URL + "/api/services/compute", 8996)
    dsp.compute_status(URL, "0xabc", JOB)
    dsp.get_nonce(URL, "0xabc")
    assert len(fake.sent("GET", "/")) == 1
    assert dsp.root(URL).dialect == PROVIDER_V2


def test_root_of_another_provider_is_fetched_separately(dsp: DataServiceProvider) -> None:
    other = FakeProvider(url="http://other.test")
    both = {URL: FakeProvider(), "http://other.test": other}

    def route(request: httpx.Request) -> httpx.Response:
        return both[f"{request.url.scheme}://{request.url.netloc.decode()}"].handle(request)

    client = DataServiceProvider(httpx.Client(transport=httpx.MockTransport(route)))
    client.get_nonce(URL, "0xabc")
    client.get_nonce("http://other.test", "0xabc")
    client.get_nonce("http://other.test/api/services/nonce", "0xabc")
    assert len(both[URL].sent("GET", "/")) == 1
    assert len(other.sent("GET", "/")) == 1


def test_paths_come_from_service_endpoints(fake: FakeProvider, dsp: DataServiceProvider) -> None:
    fake.root = {
        **ROOT_BODY,
        "serviceEndpoints": {
            **ROOT_BODY["serviceEndpoints"],
            "computeEnvironments": ["GET", "/v2/envs"],
        },
    }
    fake.on("GET", "/v2/envs", json_response(200, {"8996": []}))
    assert dsp.compute_environments(URL, 8996) == {"8996": []}
    assert fake.sent("GET", "/v2/envs")[0].url.params["chainId"] == "8996"


def test_endpoint_names_fall_back_to_case_insensitive(fake: FakeProvider) -> None:
    """ocean-node publishes `fileInfo` (§10.1); ocean.js looks names up case-insensitively."""
    endpoints = dict(ROOT_BODY["serviceEndpoints"])
    endpoints["fileInfo"] = endpoints.pop("fileinfo")
    fake.root = {**ROOT_BODY, "serviceEndpoints": endpoints}
    fake.on("POST", "/api/services/fileinfo", json_response(200, [{"index": 0, "valid": True}]))
    dsp = DataServiceProvider(fake.client())
    assert dsp.fileinfo(URL, DID, "1") == [{"index": 0, "valid": True}]
    assert json.loads(fake.sent("POST", "/api/services/fileinfo")[0].content) == {
        "did": DID,
        "serviceId": "1",
    }


def test_missing_endpoint_is_a_provider_error(fake: FakeProvider) -> None:
    endpoints = {k: v for k, v in ROOT_BODY["serviceEndpoints"].items() if k != "computeResult"}
    fake.root = {**ROOT_BODY, "serviceEndpoints": endpoints}
    with pytest.raises(ProviderError, match="does not offer 'computeResult'"):
        DataServiceProvider(fake.client()).compute_result_urls(URL, Signer.from_key(KEY), JOB, [0])


def test_a_root_without_provider_addresses_is_refused(fake: FakeProvider) -> None:
    fake.root = {"serviceEndpoints": ROOT_BODY["serviceEndpoints"], "software": "Aquarius"}
    with pytest.raises(ProviderError, match="not an Ocean Provider"):
        DataServiceProvider(fake.client()).root(URL)


# -- error bodies (§1.1) --

SIEVE_MISSING = {
    "message": "Validation error",
    "errors": {"consumerAddress": ["The consumerAddress field is required."]},
    "success": False,
}
SIEVE_SIGNATURE = {
    "message": "Validation error",
    "errors": {"signature": "Invalid signature expected nonce (5) > current nonce (3)."},
    "success": False,
}
SIEVE_SIGNATURE_LIST = {
    "message": "Validation error",
    "errors": {"signature": ["Invalid signature provided. Please check the nonce or documentId."]},
    "success": False,
}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, SIEVE_MISSING, "consumerAddress: The consumerAddress field is required."),
        (400, SIEVE_SIGNATURE, "signature: Invalid signature expected nonce (5) > current nonce"),
        (400, SIEVE_SIGNATURE_LIST, "signature: Invalid signature provided. Please check"),
        (400, {"error": {"dataset": "no_raw_algo_allowed"}}, "dataset: no_raw_algo_allowed"),
        (400, {"error": "Compute environment does not exist"}, "Compute environment does not"),
        (404, {"error": "No such index 9 in this compute job"}, "No such index 9"),
        (503, {"error": "boom", "context": {"chainId": "8996"}}, ": boom"),
        (401, "Invalid nonce", "Invalid nonce"),  # ocean-node: a JSON string (§10.2)
    ],
)
def test_every_json_error_shape_maps_to_one_provider_error(
    fake: FakeProvider, status: int, body: Any, expected: str
) -> None:
    fake.on("POST", "/api/services/initializeCompute", json_response(status, body))
    with pytest.raises(ProviderError) as caught:
        DataServiceProvider(fake.client()).initialize_compute(
            URL, [], _meta(), "ocean-compute", 1, "0xabc"
        )
    error = caught.value
    assert type(error) is ProviderError
    assert expected in str(error)
    assert f"HTTP {status}" in str(error)
    assert (error.status_code, error.payload, error.endpoint) == (
        status,
        body,
        "initializeCompute",
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<html><body><h1>502 Bad   Gateway</h1></body></html>", "<h1>502 Bad Gateway</h1>"),
        (b"", "Bad Gateway"),
    ],
)
def test_non_json_error_bodies_keep_their_text(
    fake: FakeProvider, content: bytes, expected: str
) -> None:
    fake.on("POST", "/api/services/initializeCompute", httpx.Response(502, content=content))
    with pytest.raises(ProviderError, match="HTTP 502") as caught:
        DataServiceProvider(fake.client(), retries=0).initialize_compute(
            URL, [], _meta(), "ocean-compute", 1, "0xabc"
        )
    assert expected in str(caught.value)
    assert caught.value.payload == content.decode()


def test_describe_error_body_never_loses_an_unknown_shape() -> None:
    assert describe_error_body({"unexpected": [1]}) == '{"unexpected": [1]}'
    assert describe_error_body(None, "Not Found") == "Not Found"
    assert describe_error_body({"error": ""}, "Bad Request") == "Bad Request"


def test_a_200_that_is_not_json_is_a_provider_error(
    fake: FakeProvider, dsp: DataServiceProvider
) -> None:
    fake.on("GET", "/api/services/computeEnvironments", httpx.Response(200, content=b"<html>"))
    with pytest.raises(ProviderError, match="not JSON"):
        dsp.compute_environments(URL, 8996)


# -- retries --


def test_idempotent_get_is_retried_on_503_then_succeeds(
    fake: FakeProvider, dsp: DataServiceProvider, sleeps: list[float]
) -> None:
    busy = json_response(503, {"error": "busy"})
    fake.on("GET", "/api/services/computeEnvironments", busy, busy, json_response(200, {"1": []}))
    assert dsp.compute_environments(URL, 1) == {"1": []}
    assert len(fake.sent("GET", "/api/services/computeEnvironments")) == 3
    assert sleeps == [0.1, 0.2]


def test_retries_are_bounded_then_the_last_answer_is_raised(
    fake: FakeProvider, dsp: DataServiceProvider, sleeps: list[float]
) -> None:
    fake.on("GET", "/api/services/computeEnvironments", json_response(504, {"error": "slow"}))
    with pytest.raises(ProviderError, match="slow") as caught:
        dsp.compute_environments(URL, 1)
    assert not isinstance(caught.value, ProviderUnreachableError)
    assert caught.value.status_code == 504
    assert len(fake.sent("GET", "/api/services/computeEnvironments")) == 4
    assert len(sleeps) == 3


def test_retry_after_is_honoured(
    fake: FakeProvider, dsp: DataServiceProvider, sleeps: list[float]
) -> None:
    limited = json_response(429, {"error": "slow down"}, **{"Retry-After": "2"})
    fake.on("GET", "/api/services/computeEnvironments", limited, json_response(200, {}))
    dsp.compute_environments(URL, 1)
    assert sleeps == [2.0]


def test_a_start_is_never_retried_after_it_may_have_arrived(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer
) -> None:
    fake.on("POST", "/api/services/compute", json_response(503, {"error": "operator down"}))
    with pytest.raises(ProviderError, match="operator down"):
        dsp.start_compute(URL, signer, _start_payload())
    assert len(fake.sent("POST", "/api/services/compute")) == 1


def test_a_start_that_timed_out_is_not_resent(fake: FakeProvider, signer: Signer) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    fake.on("POST", "/api/services/compute", timeout)
    with pytest.raises(ProviderUnreachableError, match="check before retrying"):
        DataServiceProvider(fake.client(), sleep=lambda _: None).start_compute(
            URL, signer, _start_payload()
        )
    assert len(fake.sent("POST", "/api/services/compute")) == 1


def test_a_start_that_never_connected_is_resent_with_a_fresh_nonce(
    fake: FakeProvider, signer: Signer
) -> None:
    attempts: list[httpx.Request] = []

    def refuse_once(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        if len(attempts) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return json_response(200, [STARTED_JOB])

    fake.on("POST", "/api/services/compute", refuse_once)
    dsp = DataServiceProvider(fake.client(), sleep=lambda _: None)
    assert dsp.start_compute(URL, signer, _start_payload()).jobId == JOB
    nonces = [json.loads(r.content)["nonce"] for r in attempts]
    assert nonces == [2, 3]


def test_connection_refused_is_unreachable_after_bounded_retries() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    dsp = DataServiceProvider(retries=2, backoff=0.01, sleep=sleeps.append, timeout=5)
    with pytest.raises(ProviderUnreachableError, match=r"no answer from http://127\.0\.0\.1"):
        dsp.compute_environments(f"http://127.0.0.1:{port}", 1)
    assert sleeps == [0.01, 0.02]


# -- nonces and signatures (§3) --


@pytest.mark.parametrize(
    ("stored", "last"),
    [
        ("1", 1),
        ("5", 5),
        (7, 7),
        ("1700000000.123456", 1700000000),
        ("1700000000123456789", 1700000000123456789),
    ],
)
def test_parse_nonce(stored: Any, last: int) -> None:
    assert parse_nonce(stored) == last


@pytest.mark.parametrize("stored", ["abc", "", "NaN", None])
def test_a_nonce_that_is_not_a_number_is_a_provider_error(stored: Any) -> None:
    with pytest.raises(ProviderError, match="not a number"):
        parse_nonce(stored)


def test_start_is_signed_with_the_stored_nonce_plus_one(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer
) -> None:
    fake.nonce = "1700000000.5"  # a timestamp left by another client still works
    fake.on("POST", "/api/services/compute", json_response(200, [STARTED_JOB]))
    job = dsp.start_compute(URL, signer, _start_payload())
    assert job.jobId == JOB and job.results == []
    nonce_request = fake.sent("GET", "/api/services/nonce")[0]
    assert nonce_request.url.params["userAddress"] == signer.address
    body = json.loads(fake.sent("POST", "/api/services/compute")[0].content)
    assert body["nonce"] == 1700000001
    assert body["consumerAddress"] == signer.address
    message = f"{signer.address}{DID}{body['nonce']}"  # §3.2 start
    assert signing.verify(signer.address, message, body["signature"])


def test_start_accepts_a_dict_and_refuses_an_answer_without_job(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer
) -> None:
    fake.on(
        "POST",
        "/api/services/compute",
        json_response(201, STARTED_JOB),
        json_response(200, [{"status": 1}]),
        json_response(200, []),
    )
    assert dsp.start_compute(URL, signer, _start_payload()).jobId == JOB
    with pytest.raises(ProviderError, match="malformed job"):
        dsp.start_compute(URL, signer, _start_payload())
    with pytest.raises(ProviderError, match="no job"):
        dsp.start_compute(URL, signer, _start_payload())


def test_stop_sends_ocean_py_query_signed_over_owner_job_did(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer
) -> None:
    fake.nonce = "3"
    fake.on("PUT", "/api/services/compute", json_response(200, [FINISHED_JOB]))
    jobs = dsp.stop_compute(URL, signer, JOB, DID)
    assert [job.status for job in jobs] == [70]
    request = fake.sent("PUT", "/api/services/compute")[0]
    params = dict(request.url.params)
    assert set(params) == {"consumerAddress", "documentId", "jobId", "nonce", "signature"}
    assert params["nonce"] == "4"
    assert (params["consumerAddress"], params["jobId"], params["documentId"]) == (
        signer.address,
        JOB,
        DID,
    )
    assert request.content == b""
    assert signing.verify(signer.address, f"{signer.address}{JOB}{DID}4", params["signature"])


def test_delete_is_signed_like_stop(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer
) -> None:
    fake.on("DELETE", "/api/services/compute", json_response(200, ""))
    assert dsp.delete_compute(URL, signer, JOB, DID) == ""
    params = fake.sent("DELETE", "/api/services/compute")[0].url.params
    assert signing.verify(
        signer.address, f"{signer.address}{JOB}{DID}{params['nonce']}", params["signature"]
    )


def test_status_is_unsigned_and_spends_no_nonce(
    fake: FakeProvider, dsp: DataServiceProvider
) -> None:
    fake.on("GET", "/api/services/compute", json_response(200, [FINISHED_JOB]))
    [job] = dsp.compute_status(URL, "0xOwner", JOB)
    assert job.status == 70 and len(job.results) == 4
    params = dict(fake.sent("GET", "/api/services/compute")[0].url.params)
    assert params == {"consumerAddress": "0xOwner", "jobId": JOB}
    assert not fake.sent("GET", "/api/services/nonce")


def test_result_urls_signed_together_use_increasing_nonces(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer
) -> None:
    fake.nonce = "3"
    urls = dsp.compute_result_urls(URL, signer, JOB, [0, 2])
    assert len(fake.sent("GET", "/api/services/nonce")) == 1
    seen = []
    for url, index in zip(urls, [0, 2], strict=True):
        parsed = httpx.URL(url)
        assert parsed.path == "/api/services/computeResult"
        params = dict(parsed.params)
        assert set(params) == {"consumerAddress", "jobId", "index", "nonce", "signature"}
        assert params["index"] == str(index)
        message = f"{signer.address}{JOB}{index}{params['nonce']}"  # §3.2 / §4.10
        assert signing.verify(signer.address, message, params["signature"])
        seen.append(int(params["nonce"]))
    assert seen == [4, 5]
    # The provider has not seen those URLs yet; the next signed call must still go above.
    fake.on("PUT", "/api/services/compute", json_response(200, [FINISHED_JOB]))
    dsp.stop_compute(URL, signer, JOB, DID)
    assert fake.sent("PUT", "/api/services/compute")[0].url.params["nonce"] == "6"


def test_no_indexes_spend_no_nonce(fake: FakeProvider, dsp: DataServiceProvider) -> None:
    assert dsp.compute_result_urls(URL, Signer.from_key(KEY), JOB, []) == []
    assert not fake.sent("GET", "/api/services/nonce")


# -- downloads --


def test_download_to_streams_into_the_file_with_size_and_sha256(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer, tmp_path: Any
) -> None:
    content = bytes(range(256)) * 1000
    fake.on("GET", "/api/services/computeResult", httpx.Response(200, content=content))
    url = dsp.compute_result_urls(URL, signer, JOB, [0])[0]
    done = dsp.download_to(url, tmp_path / "out" / "result.bin")
    assert done.size == len(content)
    assert done.sha256 == hashlib.sha256(content).hexdigest()
    assert (tmp_path / "out" / "result.bin").read_bytes() == content
    assert dsp.download(url) == content


def test_a_refused_download_leaves_no_file(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer, tmp_path: Any
) -> None:
    refused = json_response(404, {"error": "No such index 7 in this compute job"})
    fake.on("GET", "/api/services/computeResult", refused)
    url = dsp.compute_result_urls(URL, signer, JOB, [7])[0]
    with pytest.raises(ProviderError, match="No such index 7") as caught:
        dsp.download_to(url, tmp_path / "result.bin")
    assert caught.value.status_code == 404
    assert list(tmp_path.iterdir()) == []


def test_a_signed_download_is_not_resent_after_a_503(
    fake: FakeProvider, dsp: DataServiceProvider, signer: Signer
) -> None:
    fake.on("GET", "/api/services/computeResult", json_response(503, {"error": "busy"}))
    url = dsp.compute_result_urls(URL, signer, JOB, [0])[0]
    with pytest.raises(ProviderError, match="busy"):
        dsp.download(url)
    assert len(fake.sent("GET", "/api/services/computeResult")) == 1


def _meta() -> AlgorithmMetadata:
    return AlgorithmMetadata(rawcode="print(1)")


def _start_payload() -> dict[str, Any]:
    return {
        "dataset": {"documentId": DID, "serviceId": "1", "transferTxId": "0xabc"},
        "environment": "ocean-compute",
        "algorithm": {"meta": {"rawcode": "print(1)"}},
        "additionalDatasets": [],
    }
