"""Signed requests under attack (issue 5, Auth), on every signed endpoint.

tests/acceptance/test_provider_wire.py already shows a compute start refused for a forged,
a malformed ("0x1234") and an other-message signature and a replay, publishing refused
unsigned or forged, and another wallet unable to stop a running job or fetch result 0. Here
every signed endpoint (start, stop, delete, result, publish) meets every attack, each answer
must be a JSON 4xx, a refused request must not use up the nonce nor change anything, and
another wallet cannot get at a finished job's outputs or logs.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from specrunner.ocean import signing
from specrunner.ocean.signing import Signer
from tests.acceptance.wire import SLEEPER, WireClient, publish_file, raw_algorithm
from tests.conftest import RunningProvider

WRITER = "print('log line of the owner')\nopen('/data/outputs/private.txt', 'w').write('mine')\n"


@dataclass
class Jobs:
    owner: Signer
    dataset: str
    finished: dict[str, Any]
    running: str


@pytest.fixture(scope="module")
def jobs(provider: RunningProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jobs]:
    folder = tmp_path_factory.mktemp("auth")
    (folder / "data.csv").write_text("a\n1\n")
    did = str(
        publish_file(provider.url, Signer.from_key(os.urandom(32)), folder / "data.csv")["id"]
    )
    owner = Signer.from_key(os.urandom(32))
    with WireClient(provider.url, owner) as client:
        finished = client.wait(_start(client, did, WRITER).json()[0]["jobId"])
        running = _start(client, did, SLEEPER).json()[0]["jobId"]
        client.wait_status(running, 40)
        yield Jobs(owner, did, finished, running)
        # Stop the sleeper, whatever the tests did to it.
        params = {"consumerAddress": owner.address, "jobId": running}
        client.http.put(
            "/api/services/compute", params={**params, **client.signed(f"{owner.address}{running}")}
        )


def _start(client: WireClient, did: str, code: str) -> httpx.Response:
    env = client.environment()
    order = client.order(did, "compute", env)["datasets"][0]["validOrder"]
    dataset = {"documentId": did, "serviceId": "compute", "transferTxId": order}
    return client.start(client.start_body(dataset, raw_algorithm(code), env))


def _json_4xx(response: httpx.Response) -> Any:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_another_wallet_gets_no_output_log_or_stop_of_a_finished_job(
    provider: RunningProvider, jobs: Jobs, other_wallet: Signer
) -> None:
    job_id = jobs.finished["jobId"]
    results = jobs.finished["results"]
    assert {r["type"] for r in results} >= {"output", "algorithmLog"}
    with (
        WireClient(provider.url, other_wallet) as intruder,
        WireClient(provider.url, jobs.owner) as owner,
    ):
        assert intruder.status(job_id) == []
        for entry in results:
            refused = _json_4xx(intruder.result(job_id, entry["index"]))
            assert "mismatch" in refused["error"]
            # Naming the owner does not help without the owner's key.
            nonce = 10**9
            spoofed = intruder.http.get(
                "/api/services/computeResult",
                params={
                    "consumerAddress": jobs.owner.address,
                    "jobId": job_id,
                    "index": entry["index"],
                    "nonce": nonce,
                    "signature": other_wallet.sign(
                        f"{jobs.owner.address}{job_id}{entry['index']}{nonce}"
                    ),
                },
            )
            assert "Invalid signature" in _json_4xx(spoofed)["errors"]["signature"]
        stop = intruder.http.put(
            "/api/services/compute",
            params={
                "consumerAddress": other_wallet.address,
                "jobId": job_id,
                **intruder.signed(f"{other_wallet.address}{job_id}"),
            },
        )
        assert stop.status_code == 200 and stop.json() == []
        log_index = next(r["index"] for r in results if r["type"] == "algorithmLog")
        assert owner.result(job_id, log_index).text == "log line of the owner\n"


# --- every signed endpoint against every kind of bad signature or nonce -----------------


@dataclass
class Endpoint:
    """How to send one signed request with a chosen nonce and signature."""

    message: Callable[[], str]  # what the owner signs, before the nonce
    send: Callable[[httpx.Client, Any, Any], httpx.Response]
    unchanged: Callable[[httpx.Client], bool]


def _endpoints(jobs: Jobs, client: httpx.Client) -> dict[str, Endpoint]:
    owner = jobs.owner.address
    finished, running = jobs.finished["jobId"], jobs.running

    def owner_jobs(http: httpx.Client) -> list[dict[str, Any]]:
        return list(http.get("/api/services/compute", params={"consumerAddress": owner}).json())

    job_count = len(owner_jobs(client))

    def nothing_started(http: httpx.Client) -> bool:
        return len(owner_jobs(http)) == job_count

    def running_state(http: httpx.Client) -> tuple[Any, Any]:
        job = http.get(
            "/api/services/compute", params={"consumerAddress": owner, "jobId": running}
        ).json()[0]
        return job["stopreq"], job["dateFinished"]

    before = running_state(client)

    def still_running(http: httpx.Client) -> bool:
        return running_state(http) == before

    envs = client.get("/api/services/computeEnvironments").json()
    env = next(iter(envs.values()))[0]["id"]
    order = client.post(
        "/api/services/initializeCompute",
        json={
            "datasets": [{"documentId": jobs.dataset, "serviceId": "compute"}],
            "compute": {"env": env, "validUntil": 4102444800},
            "consumerAddress": owner,
        },
    ).json()["datasets"][0]["validOrder"]
    start_body = {
        "dataset": {"documentId": jobs.dataset, "serviceId": "compute", "transferTxId": order},
        "algorithm": raw_algorithm("print(1)"),
        "environment": env,
        "consumerAddress": owner,
    }
    publish_body = {
        "type": "dataset",
        "name": "signed.txt",
        "files": [{"filename": "signed.txt", "content": base64.b64encode(os.urandom(8)).decode()}],
        "compute": {"allowRawAlgorithm": True},
        "publisherAddress": owner,
    }
    publish_digest = signing.publish_digest(publish_body)

    query = lambda extra: lambda http, nonce, sig: extra(http, {"nonce": nonce, "signature": sig})  # noqa: E731
    return {
        "start": Endpoint(
            lambda: signing.compute_start_message(owner, jobs.dataset),
            lambda http, nonce, sig: http.post(
                "/api/services/compute", json={**start_body, "nonce": nonce, "signature": sig}
            ),
            nothing_started,
        ),
        "stop": Endpoint(
            lambda: signing.compute_job_message(owner, running, jobs.dataset),
            query(
                lambda http, signed: http.put(
                    "/api/services/compute",
                    params={
                        "consumerAddress": owner,
                        "jobId": running,
                        "documentId": jobs.dataset,
                        **signed,
                    },
                )
            ),
            still_running,
        ),
        "delete": Endpoint(
            lambda: signing.compute_job_message(owner, running, jobs.dataset),
            query(
                lambda http, signed: http.request(
                    "DELETE",
                    "/api/services/compute",
                    params={
                        "consumerAddress": owner,
                        "jobId": running,
                        "documentId": jobs.dataset,
                        **signed,
                    },
                )
            ),
            still_running,
        ),
        "result": Endpoint(
            lambda: signing.compute_result_message(owner, finished, 0),
            query(
                lambda http, signed: http.get(
                    "/api/services/computeResult",
                    params={"consumerAddress": owner, "jobId": finished, "index": 0, **signed},
                )
            ),
            lambda http: True,  # a refusal carries no file: checked by the JSON 4xx itself
        ),
        "publish": Endpoint(
            lambda: signing.publish_message(owner, publish_digest),
            lambda http, nonce, sig: http.post(
                "/api/services/publish", json={**publish_body, "nonce": nonce, "signature": sig}
            ),
            lambda http: True,  # the genuine request below shows the body was registrable
        ),
    }


GOOD_V = "1b"
MALFORMED_SIGNATURES: list[Any] = [
    "",
    "0x",
    "0x1234",
    "not a signature",
    "0x" + "zz" * 65,
    "0x" + "00" * 65,
    "0x" + "ff" * 64 + GOOD_V,
    "0x" + "11" * 64 + "63",  # v = 99
    "0x" + "ab" * 5000,
    12345,
    ["0x" + "11" * 65],
    {"r": "0x11"},
    None,
]
MALFORMED_NONCES: list[Any] = ["NaN", "Infinity", "-1", "1e400", "abc", "0x10", "", None, True]


# `stop` last: its genuine request ends the running job the others check is left alone.
@pytest.mark.parametrize("name", ["start", "delete", "result", "publish", "stop"])
def test_every_signed_endpoint_refuses_every_bad_signature_with_json_4xx(
    provider: RunningProvider, jobs: Jobs, other_wallet: Signer, name: str
) -> None:
    with httpx.Client(base_url=provider.url, timeout=30) as http:
        endpoint = _endpoints(jobs, http)[name]

        def stored_nonce() -> str:
            params = {"userAddress": jobs.owner.address}
            return str(http.get("/api/services/nonce", params=params).json()["nonce"])

        before = stored_nonce()
        nonce = int(float(before)) + 1
        message = endpoint.message()
        attacks: list[tuple[str, Any, Any]] = [
            ("forged", nonce, other_wallet.sign(f"{message}{nonce}")),
            ("other message", nonce, jobs.owner.sign(f"{message}x{nonce}")),
            ("other nonce", nonce, jobs.owner.sign(f"{message}{nonce + 1}")),
            ("other endpoint", nonce, jobs.owner.sign(f"{jobs.owner.address}{nonce}")),
            *[("malformed signature", nonce, sig) for sig in MALFORMED_SIGNATURES],
            *[
                ("malformed nonce", bad, jobs.owner.sign(f"{message}{bad}"))
                for bad in MALFORMED_NONCES
            ],
        ]
        for label, attack_nonce, signature in attacks:
            body = _json_4xx(endpoint.send(http, attack_nonce, signature))
            assert ("errors" in body) or ("error" in body), (label, body)
            assert stored_nonce() == before, label  # a refusal never uses up a nonce
            assert endpoint.unchanged(http), label

        # The genuine request works once; the same nonce again, or a lower one, does not.
        genuine = endpoint.send(http, nonce, jobs.owner.sign(f"{message}{nonce}"))
        assert genuine.status_code == 200, genuine.text
        genuine.close()
        assert stored_nonce() == str(nonce)
        for replayed in (nonce, nonce - 1):
            body = _json_4xx(endpoint.send(http, replayed, jobs.owner.sign(f"{message}{replayed}")))
            assert "nonce" in str(body["errors"]["signature"]), body
