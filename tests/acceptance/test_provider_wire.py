"""The embedded provider on a loopback port, spoken to over raw HTTP (reference §2 to §8)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from specrunner.ocean.signing import Signer
from tests.acceptance.wire import SHOW_INPUTS, SLEEPER, WireClient, publish_file, raw_algorithm
from tests.conftest import RunningProvider


@dataclass
class Assets:
    dataset: str
    second: str
    restricted: str
    algorithm: str
    other_algorithm: str
    data_text: str
    second_text: str


@pytest.fixture(scope="module")
def assets(provider: RunningProvider, tmp_path_factory: pytest.TempPathFactory) -> Assets:
    folder = tmp_path_factory.mktemp("assets")
    publisher = Signer.from_key(os.urandom(32))
    (folder / "data.csv").write_text("word,count\nocean,3\n")
    (folder / "more.txt").write_text("second dataset\n")
    (folder / "show.py").write_text(SHOW_INPUTS)
    (folder / "other.py").write_text("print('other')\n")
    algorithm = publish_file(provider.url, publisher, folder / "show.py", "algorithm")["id"]
    other = publish_file(provider.url, publisher, folder / "other.py", "algorithm")["id"]
    return Assets(
        dataset=publish_file(provider.url, publisher, folder / "data.csv")["id"],
        second=publish_file(provider.url, publisher, folder / "more.txt")["id"],
        restricted=publish_file(
            provider.url,
            publisher,
            folder / "data.csv",
            allow_raw=False,
            trusted=[{"did": algorithm}],
        )["id"],
        algorithm=algorithm,
        other_algorithm=other,
        data_text="word,count\nocean,3\n",
        second_text="second dataset\n",
    )


@pytest.fixture
def client(provider_url: str, wallet: Signer) -> Iterator[WireClient]:
    consumer = WireClient(provider_url, wallet)
    yield consumer
    consumer.http.close()


def _published_start(
    client: WireClient, dataset: str, algorithm: str, **extra: Any
) -> dict[str, Any]:
    env = client.environment()
    order = client.order(dataset, "compute", env, algorithm=(algorithm, "access"))
    return client.start_body(
        {
            "documentId": dataset,
            "serviceId": "compute",
            "transferTxId": order["datasets"][0]["validOrder"],
        },
        {
            "documentId": algorithm,
            "serviceId": "access",
            "transferTxId": order["algorithm"]["validOrder"],
            **extra,
        },
        env,
    )


def _raw_start(client: WireClient, dataset: str, code: str, **extra: Any) -> dict[str, Any]:
    env = client.environment()
    order = client.order(dataset, "compute", env)
    return client.start_body(
        {
            "documentId": dataset,
            "serviceId": "compute",
            "transferTxId": order["datasets"][0]["validOrder"],
        },
        raw_algorithm(code),
        env,
        **extra,
    )


def test_root_lists_provider_v2_endpoints(provider_url: str) -> None:
    root = httpx.get(provider_url + "/").json()
    assert root["software"] == "Provider"
    assert root["chainIds"] == [8996]
    assert set(root["providerAddresses"]) == {"8996"}
    for name in (
        "nonce",
        "fileinfo",
        "initializeCompute",
        "computeStart",
        "computeStatus",
        "computeStop",
        "computeDelete",
        "computeResult",
        "computeEnvironments",
    ):
        _method, path = root["serviceEndpoints"][name]
        assert path.startswith("/api/services/")
    assert root["serviceEndpoints"]["computeStop"][0] == "PUT"


def test_environments_are_keyed_by_chain_and_free(provider_url: str) -> None:
    envs = httpx.get(
        provider_url + "/api/services/computeEnvironments", params={"chainId": 8996}
    ).json()
    (env,) = envs["8996"]
    assert env["priceMin"] == 0
    for key in (
        "id",
        "cpuNumber",
        "ramGB",
        "diskGB",
        "maxJobs",
        "consumerAddress",
        "maxJobDuration",
        "lastSeen",
        "feeToken",
        "namespace",
        "status",
    ):
        assert key in env


def test_nonce_is_a_string_and_advances(client: WireClient, assets: Assets) -> None:
    first = client.http.get(
        "/api/services/nonce", params={"userAddress": client.wallet.address}
    ).json()
    assert first == {"nonce": "1"}
    body = _published_start(client, assets.dataset, assets.algorithm)
    assert client.start(body).status_code == 200
    stored = client.http.get(
        "/api/services/nonce", params={"userAddress": client.wallet.address}
    ).json()
    assert stored == {"nonce": str(body["nonce"])}


def test_publish_is_idempotent_and_hides_file_locations(
    provider_url: str, tmp_path: Path, wallet: Signer
) -> None:
    data = tmp_path / "secret-name.csv"
    data.write_text("a,b\n")
    first = publish_file(provider_url, wallet, data)
    again = publish_file(provider_url, wallet, data)
    assert first == again
    served = httpx.get(f"{provider_url}/api/aquarius/assets/ddo/{first['id']}").json()
    assert served == first
    files = served["services"][0]["files"]
    assert files.startswith("0x") and "secret-name" not in bytes.fromhex(files[2:]).hex()
    assert "secret-name" not in files


def test_publish_needs_a_valid_signature(
    provider_url: str, wallet: Signer, other_wallet: Signer
) -> None:
    body = {
        "type": "dataset",
        "files": [{"filename": "x.txt", "content": "eA=="}],
        "publisherAddress": wallet.address,
        "nonce": "5",
    }
    unsigned = httpx.post(provider_url + "/api/services/publish", json=body)
    assert unsigned.status_code == 400 and "signature" in unsigned.json()["errors"]
    forged = {**body, "signature": other_wallet.sign("anything5")}
    response = httpx.post(provider_url + "/api/services/publish", json=forged)
    assert response.status_code == 400
    assert "Invalid signature" in response.json()["errors"]["signature"]


def test_fileinfo_reports_valid_files(provider_url: str, assets: Assets) -> None:
    response = httpx.post(
        provider_url + "/api/services/fileinfo",
        json={"did": assets.dataset, "serviceId": "compute", "checksum": 1},
    )
    (entry,) = response.json()
    assert entry["valid"] is True and entry["contentLength"] == str(len(assets.data_text))
    assert entry["checksumType"] == "sha256"


def test_published_algorithm_sees_two_datasets_and_custom_data(
    client: WireClient, assets: Assets
) -> None:
    env = client.environment()
    order = client.order(assets.dataset, "compute", env, algorithm=(assets.algorithm, "access"))
    second = client.order(assets.second, "compute", env)
    body = client.start_body(
        {
            "documentId": assets.dataset,
            "serviceId": "compute",
            "transferTxId": order["datasets"][0]["validOrder"],
        },
        {
            "documentId": assets.algorithm,
            "serviceId": "access",
            "transferTxId": order["algorithm"]["validOrder"],
            "algocustomdata": {"limit": 7},
        },
        env,
        additionalDatasets=[
            {
                "documentId": assets.second,
                "serviceId": "compute",
                "transferTxId": second["datasets"][0]["validOrder"],
            }
        ],
    )
    response = client.start(body)
    assert response.status_code == 200, response.text
    (started,) = response.json()
    assert started["status"] == 1 and started["statusText"] == "Warming up"
    assert len(started["jobId"]) == 32
    job = client.wait(started["jobId"])
    assert (job["status"], job["statusText"]) == (70, "Job finished")
    assert job["terminationDetails"]["exitCode"] == 0
    types = [(r["index"], r["type"]) for r in job["results"]]
    assert types == [(0, "output"), (1, "algorithmLog"), (2, "configrationLog"), (3, "publishLog")]
    report = json.loads(client.result(job["jobId"], 0).content)
    first, second_did = assets.dataset[7:], assets.second[7:]
    assert report["dids"] == [first, second_did]
    assert report["inputs"] == {first: [assets.data_text], second_did: [assets.second_text]}
    assert report["custom"] == {"limit": 7}
    log = client.result(job["jobId"], 1)
    assert log.content == b"algorithm ran on 2 dataset(s)\n"
    assert "attachment" in log.headers["content-disposition"]


def test_result_bytes_match_their_sha256(client: WireClient, assets: Assets) -> None:
    import hashlib

    job = client.wait(
        client.start(_raw_start(client, assets.dataset, SHOW_INPUTS)).json()[0]["jobId"]
    )
    for entry in job["results"]:
        content = client.result(job["jobId"], entry["index"]).content
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        assert len(content) == entry["filesize"]


def test_ocean_py_additional_inputs_key_is_accepted(client: WireClient, assets: Assets) -> None:
    body = _raw_start(client, assets.dataset, SHOW_INPUTS, additionalInputs=[])
    job = client.wait(client.start(body).json()[0]["jobId"])
    assert job["inputDID"] == [assets.dataset]


def test_status_lists_all_jobs_of_an_owner(client: WireClient, assets: Assets) -> None:
    ids = [
        client.start(_raw_start(client, assets.dataset, "print(1)")).json()[0]["jobId"]
        for _ in range(2)
    ]
    listed = [job["jobId"] for job in client.status()]
    assert listed == ids


def test_stop_ends_a_running_job_at_70(client: WireClient, assets: Assets) -> None:
    job_id = client.start(_raw_start(client, assets.dataset, SLEEPER)).json()[0]["jobId"]
    client.wait_status(job_id, 40)
    owner = client.wallet.address
    params = {
        "consumerAddress": owner,
        "jobId": job_id,
        "documentId": assets.dataset,
        **client.signed(f"{owner}{job_id}{assets.dataset}"),
    }
    response = client.http.put("/api/services/compute", params=params)
    assert response.status_code == 200 and response.json()[0]["stopreq"] == 1
    job = client.wait(job_id, timeout=20)
    assert (job["status"], job["stopreq"]) == (70, 1)
    assert job["terminationDetails"]["reason"] == "stopped"
    log_index = next(r["index"] for r in job["results"] if r["type"] == "algorithmLog")
    assert "job killed" in client.result(job_id, log_index).text


def test_stop_accepts_ocean_js_body_without_nonce_in_message(
    client: WireClient, assets: Assets
) -> None:
    job_id = client.start(_raw_start(client, assets.dataset, SLEEPER)).json()[0]["jobId"]
    owner = client.wallet.address
    body = {
        "consumerAddress": owner,
        "jobId": job_id,
        "agreementId": None,
        "nonce": str(client.nonce()),
        "signature": client.wallet.sign(f"{owner}{job_id}"),
    }
    response = client.http.put("/api/services/compute", json=body)
    assert response.status_code == 200, response.text
    assert client.wait(job_id, timeout=20)["stopreq"] == 1


def test_v_as_zero_or_one_and_nonce_as_string(client: WireClient, assets: Assets) -> None:
    body = _raw_start(client, assets.dataset, "print(1)")
    signature = body["signature"]
    v = int(signature[-2:], 16) - 27
    body.update(signature=signature[:-2] + f"{v:02x}", nonce=str(body["nonce"]))
    assert client.start(body).status_code == 200


def _refusal(response: httpx.Response) -> Any:
    assert 400 <= response.status_code < 500, response.text
    return response.json()


def test_bad_starts_are_refused_and_change_nothing(
    client: WireClient, assets: Assets, other_wallet: Signer
) -> None:
    env = client.environment()
    good = _published_start(client, assets.dataset, assets.algorithm)
    owner = client.wallet.address

    def resign(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, **client.signed(f"{owner}{body['dataset']['documentId']}")}

    cases: list[tuple[dict[str, Any], Any]] = [
        (
            {**good, "dataset": {**good["dataset"], "documentId": "did:op:" + "0" * 64}},
            {"error": {"dataset.documentId": "did_not_found"}},
        ),
        (
            {**good, "dataset": {**good["dataset"], "serviceId": "nope"}},
            {"error": {"dataset.serviceId": "not_found"}},
        ),
        (
            {**good, "environment": "no-such-env"},
            {"error": "Environment invalid or does not exist"},
        ),
        (
            {**good, "dataset": {**good["dataset"], "transferTxId": "0x" + "ab" * 32}},
            {"error": {"dataset.serviceId": "order_invalid"}},
        ),
        (
            {**good, "algorithm": {**good["algorithm"], "transferTxId": "0x" + "cd" * 32}},
            {"error": {"algorithm": "in_use_or_not_on_chain"}},
        ),
        ({**good, "additionalDatasets": "nope"}, {"error": {"additional_input": "invalid"}}),
    ]
    for body, expected in cases:
        assert _refusal(client.start(resign(body))) == expected, body
    restricted_order = client.order(assets.restricted, "compute", env)
    restricted = {
        "documentId": assets.restricted,
        "serviceId": "compute",
        "transferTxId": restricted_order["datasets"][0]["validOrder"],
    }
    raw = client.start_body(restricted, raw_algorithm("print(1)"), env)
    assert _refusal(client.start(raw)) == {"error": {"dataset": "no_raw_algo_allowed"}}
    other = client.order(
        assets.restricted, "compute", env, algorithm=(assets.other_algorithm, "access")
    )
    untrusted = client.start_body(
        {**restricted, "transferTxId": other["datasets"][0]["validOrder"]},
        {
            "documentId": assets.other_algorithm,
            "serviceId": "access",
            "transferTxId": other["algorithm"]["validOrder"],
        },
        env,
    )
    assert _refusal(client.start(untrusted)) == {"error": {"dataset": "not_trusted_algo"}}
    assert client.status() == []


def test_signature_and_nonce_refusals(
    client: WireClient, assets: Assets, other_wallet: Signer
) -> None:
    good = _published_start(client, assets.dataset, assets.algorithm)
    forged = {
        **good,
        "signature": other_wallet.sign(f"{client.wallet.address}{assets.dataset}{good['nonce']}"),
    }
    assert "Invalid signature" in _refusal(client.start(forged))["errors"]["signature"]
    malformed = {**good, "signature": "0x1234"}
    assert "signature" in _refusal(client.start(malformed))["errors"]
    other_message = {**good, "signature": client.wallet.sign(f"something else{good['nonce']}")}
    assert "Invalid signature" in _refusal(client.start(other_message))["errors"]["signature"]
    assert client.start(good).status_code == 200
    replay = _refusal(client.start(good))
    assert "expected nonce" in replay["errors"]["signature"]
    assert len(client.status()) == 1


def test_missing_fields_and_non_json_bodies(provider_url: str, wallet: Signer) -> None:
    missing = httpx.post(provider_url + "/api/services/compute", json={})
    assert _refusal(missing) == {
        "message": "Validation error",
        "success": False,
        "errors": {"dataset.documentId": ["The dataset.documentId field is required."]},
    }
    not_json = httpx.post(
        provider_url + "/api/services/compute",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert _refusal(not_json) == {"error": "request body is not valid JSON"}
    assert _refusal(httpx.get(provider_url + "/api/services/compute"))["errors"] == {
        "consumerAddress": ["The consumerAddress field is required."]
    }
    assert _refusal(httpx.get(provider_url + "/api/services/nonce"))["errors"] == {
        "userAddress": ["The userAddress field is required."]
    }
    assert "error" in _refusal(httpx.get(provider_url + "/api/aquarius/assets/ddo/did:op:00"))


def test_another_wallet_cannot_see_stop_or_fetch_a_job(
    client: WireClient, assets: Assets, other_wallet: Signer
) -> None:
    job_id = client.start(_raw_start(client, assets.dataset, SLEEPER)).json()[0]["jobId"]
    with WireClient(client.url, other_wallet) as intruder:
        assert intruder.status(job_id) == []
        intruder_owner = other_wallet.address
        stop = intruder.http.put(
            "/api/services/compute",
            params={
                "consumerAddress": intruder_owner,
                "jobId": job_id,
                **intruder.signed(f"{intruder_owner}{job_id}"),
            },
        )
        assert stop.status_code == 200 and stop.json() == []
        fetched = intruder.result(job_id, 0)
        assert fetched.status_code == 404 and "mismatch" in fetched.json()["error"]
        # Claiming to be the owner without the owner's key fails on the signature.
        owner = client.wallet.address
        spoofed = intruder.http.put(
            "/api/services/compute",
            params={
                "consumerAddress": owner,
                "jobId": job_id,
                "nonce": 10**6,
                "signature": other_wallet.sign(f"{owner}{job_id}{10**6}"),
            },
        )
        assert "Invalid signature" in _refusal(spoofed)["errors"]["signature"]
        assert client.status(job_id)[0]["stopreq"] == 0


def test_result_index_errors(client: WireClient, assets: Assets) -> None:
    job = client.wait(
        client.start(_raw_start(client, assets.dataset, "print(1)")).json()[0]["jobId"]
    )
    missing = client.result(job["jobId"], len(job["results"]))
    assert missing.status_code == 404
    assert missing.json() == {"error": f"No such index {len(job['results'])} in this compute job"}


def test_initialize_compute_refusals(client: WireClient, assets: Assets) -> None:
    env = client.environment()
    base = {
        "datasets": [{"documentId": assets.dataset, "serviceId": "compute"}],
        "compute": {"env": env, "validUntil": 4102444800},
        "consumerAddress": client.wallet.address,
    }
    post = lambda body: client.http.post("/api/services/initializeCompute", json=body)  # noqa: E731
    assert _refusal(post({**base, "compute": {"env": "x", "validUntil": 4102444800}})) == {
        "error": "Compute environment does not exist"
    }
    assert _refusal(post({**base, "compute": {"env": env, "validUntil": 1}})) == {
        "error": "The validUntil value is not correct."
    }
    assert _refusal(post({**base, "algorithm": {"documentId": assets.dataset}})) == {
        "error": "DID is not a valid algorithm"
    }
    reused = post(base).json()["datasets"][0]["validOrder"]
    again = post({**base, "datasets": [{**base["datasets"][0], "transferTxId": reused}]})
    assert again.json() == {"datasets": [{"validOrder": reused}]}


def test_openapi_document(provider_url: str) -> None:
    spec = httpx.get(provider_url + "/spec").json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/services/compute", "/api/services/computeResult"} <= set(spec["paths"])


def test_document_id_never_hides_a_job(client: WireClient, assets: Assets) -> None:
    """operator-service filters status on owner, jobId and agreementId only (§4.7)."""
    job_id = client.start(_published_start(client, assets.dataset, assets.algorithm)).json()[0][
        "jobId"
    ]
    params = {
        "consumerAddress": client.wallet.address,
        "jobId": job_id,
        "documentId": assets.algorithm,
    }
    listed = client.http.get("/api/services/compute", params=params).json()
    assert [job["jobId"] for job in listed] == [job_id]


def test_additional_input_may_be_an_access_service(client: WireClient, assets: Assets) -> None:
    env = client.environment()
    extra = client.order(assets.other_algorithm, "access", env)["datasets"][0]["validOrder"]
    body = _raw_start(
        client,
        assets.dataset,
        SHOW_INPUTS,
        additionalDatasets=[
            {"documentId": assets.other_algorithm, "serviceId": "access", "transferTxId": extra}
        ],
    )
    job = client.wait(client.start(body).json()[0]["jobId"])
    assert job["inputDID"] == [assets.dataset, assets.other_algorithm]
    report = json.loads(client.result(job["jobId"], 0).content)
    assert report["inputs"][assets.other_algorithm[7:]] == ["print('other')\n"]


def test_odd_numbers_are_refused_not_crashed_on(client: WireClient, assets: Assets) -> None:
    job = client.wait(
        client.start(_raw_start(client, assets.dataset, "print(1)")).json()[0]["jobId"]
    )
    owner = client.wallet.address
    params = {
        "consumerAddress": owner,
        "jobId": job["jobId"],
        "index": "²",
        **client.signed(f"{owner}{job['jobId']}²"),
    }
    assert _refusal(client.http.get("/api/services/computeResult", params=params))["errors"]
    for until in ("inf", "1e400", "nan"):
        response = client.http.post(
            "/api/services/initializeCompute",
            json={
                "datasets": [{"documentId": assets.dataset, "serviceId": "compute"}],
                "compute": {"env": client.environment(), "validUntil": until},
                "consumerAddress": owner,
            },
        )
        assert 400 <= response.status_code < 500, (until, response.text)


def test_concurrent_publishes_of_the_same_file_all_succeed(
    provider_url: str, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = tmp_path / "big.bin"
    data.write_bytes(os.urandom(4 << 20))
    wallets = [Signer.from_key(os.urandom(32)) for _ in range(6)]
    with ThreadPoolExecutor(6) as pool:
        ddos = list(pool.map(lambda w: publish_file(provider_url, w, data), wallets))
    assert len({ddo["id"] for ddo in ddos}) == 6  # one asset per publisher, none failed


def test_publisher_only_raw_algorithms(
    client: WireClient, tmp_path: Path, other_wallet: Signer
) -> None:
    """specrunner's local datasets: raw code only from their own publisher (shared servers)."""
    from specrunner.ocean.publishing import build_publish_request, publish

    data = tmp_path / "private.csv"
    data.write_text("secret row\n")
    body = build_publish_request(
        [data], "dataset", compute={"allowRawAlgorithm": True, "rawAlgorithmPublisherOnly": True}
    )
    did = publish(client.url, client.wallet, body).id
    env = client.environment()
    with WireClient(client.url, other_wallet) as thief:
        order = thief.order(did, "compute", env)["datasets"][0]["validOrder"]
        stolen = thief.start_body(
            {"documentId": did, "serviceId": "compute", "transferTxId": order},
            raw_algorithm("print(1)"),
            env,
        )
        assert _refusal(thief.start(stolen)) == {"error": {"dataset": "no_raw_algo_allowed"}}
    own = client.order(did, "compute", env)["datasets"][0]["validOrder"]
    body_ok = client.start_body(
        {"documentId": did, "serviceId": "compute", "transferTxId": own},
        raw_algorithm("print(1)"),
        env,
    )
    assert client.start(body_ok).status_code == 200


def test_a_stop_signature_without_nonce_cannot_move_the_nonce(
    client: WireClient, assets: Assets
) -> None:
    job_id = client.start(_raw_start(client, assets.dataset, SLEEPER)).json()[0]["jobId"]
    owner = client.wallet.address
    before = client.nonce()
    replayed = {
        "consumerAddress": owner,
        "jobId": job_id,
        "nonce": "9" * 30,
        "signature": client.wallet.sign(f"{owner}{job_id}"),
    }
    assert client.http.put("/api/services/compute", json=replayed).status_code == 200
    assert client.nonce() == before  # the counter did not jump to 999...9


def test_an_entrypoint_that_does_not_parse_is_refused_at_start(
    client: WireClient, assets: Assets
) -> None:
    body = _raw_start(client, assets.dataset, "print(1)")
    body["algorithm"]["meta"]["container"]["entrypoint"] = "python3 '$ALGO"
    body.update(client.signed(f"{client.wallet.address}{assets.dataset}"))
    assert _refusal(client.start(body)) == {"error": {"algorithm.container.entrypoint": "invalid"}}
    assert client.status() == []


def test_an_output_whose_name_is_not_utf8_is_skipped_and_the_job_ends(
    client: WireClient, assets: Assets
) -> None:
    code = "open(b'/data/outputs/\\xff', 'w').write('x')\nopen('/data/outputs/ok.txt', 'w')\n"
    job = client.wait(client.start(_raw_start(client, assets.dataset, code)).json()[0]["jobId"])
    assert job["status"] == 70
    assert [r["filename"] for r in job["results"] if r["type"] == "output"] == ["ok.txt"]
    configure = next(r for r in job["results"] if r["type"] == "configrationLog")
    assert b"not UTF-8" in client.result(job["jobId"], configure["index"]).content
