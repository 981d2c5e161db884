"""Publishing goes through the client stack: the nonce rule, retries and errors of every call."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from specrunner.errors import ProviderError
from specrunner.ocean import signing
from specrunner.ocean.provider import DataServiceProvider
from specrunner.ocean.publishing import build_publish_request, publish
from specrunner.ocean.signing import Signer
from tests.unit.ocean.fake_provider import ROOT_BODY, URL, FakeProvider, json_response

PUBLISH = "/api/services/publish"
KEY = "0x" + "11" * 32
# A nanosecond timestamp: float() keeps only ~16 digits of it.
STORED_NONCE = "1733142000123456789"


def _fake() -> FakeProvider:
    root = {
        **ROOT_BODY,
        "serviceEndpoints": {**ROOT_BODY["serviceEndpoints"], "publish": ["POST", PUBLISH]},
    }
    fake = FakeProvider(root=root)
    fake.nonce = STORED_NONCE
    return fake


def _body(tmp_path: Path) -> dict[str, object]:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    return build_publish_request([data], "dataset")


def _accepting(request: httpx.Request) -> httpx.Response:
    sent = json.loads(request.content)
    message = signing.publish_message(sent["publisherAddress"], signing.publish_digest(sent))
    if not signing.verify(sent["publisherAddress"], f"{message}{sent['nonce']}", sent["signature"]):
        return json_response(401, {"error": "Invalid signature"})
    return json_response(200, {"id": "did:op:" + "ab" * 32, "services": []})


def test_a_timestamp_nonce_is_counted_exactly(tmp_path: Path) -> None:
    fake = _fake()
    fake.on("POST", PUBLISH, _accepting)
    client = DataServiceProvider(fake.client(), sleep=lambda _: None)
    ddo = client.publish(URL, Signer.from_key(KEY), _body(tmp_path))
    assert ddo.id == "did:op:" + "ab" * 32
    (sent,) = fake.sent("POST", PUBLISH)
    # int(float(...)) + 1 gives 1733142000123456769 here: below the stored nonce.
    assert json.loads(sent.content)["nonce"] == "1733142000123456790"


def test_publish_is_retried_and_resigned_like_any_idempotent_call(tmp_path: Path) -> None:
    fake = _fake()
    answers = iter([json_response(503, {"error": "busy"})])

    def flaky(request: httpx.Request) -> httpx.Response:
        return next(answers, None) or _accepting(request)

    fake.on("POST", PUBLISH, flaky)
    sleeps: list[float] = []
    client = DataServiceProvider(fake.client(), sleep=sleeps.append)
    client.publish(URL, Signer.from_key(KEY), _body(tmp_path))
    nonces = [json.loads(r.content)["nonce"] for r in fake.sent("POST", PUBLISH)]
    assert len(nonces) == 2 and len(sleeps) == 1
    assert int(nonces[1]) > int(nonces[0])  # a fresh signature per attempt


def test_a_refusal_is_one_provider_error_with_the_providers_message(tmp_path: Path) -> None:
    fake = _fake()
    fake.on("POST", PUBLISH, json_response(400, {"error": "files: too large"}))
    client = DataServiceProvider(fake.client(), sleep=lambda _: None)
    with pytest.raises(ProviderError) as caught:
        client.publish(URL, Signer.from_key(KEY), _body(tmp_path))
    assert caught.value.status_code == 400
    assert str(caught.value) == "publish failed (HTTP 400): files: too large"


def test_a_provider_without_the_extension_is_told_apart(tmp_path: Path) -> None:
    fake = FakeProvider()  # Ocean's own Provider: no publish endpoint in its root
    client = DataServiceProvider(fake.client(), sleep=lambda _: None)
    with pytest.raises(ProviderError, match="does not accept publishing"):
        publish(URL, Signer.from_key(KEY), _body(tmp_path), client)
    assert not fake.sent("POST", PUBLISH)
