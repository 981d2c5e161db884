"""schemathesis against the provider's own OpenAPI document (issue 5, Fuzzing).

Every operation `/spec` declares gets generated requests, valid and invalid: the provider
must never answer 5xx, and every refusal must carry a JSON body (reference §1.1).
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case

from tests.conftest import RunningProvider

schema = schemathesis.pytest.from_fixture("provider_schema")


@pytest.fixture
def provider_schema(provider: RunningProvider) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(provider.url + "/spec")
    # Invalid requests too (wrong types, missing fields): those are where a 500 would hide.
    loaded.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    )
    return loaded


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_every_error_is_json(case: Case) -> None:
    response = case.call(timeout=30)
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text)
    if response.status_code >= 400:
        body = json.loads(response.content)  # raises: not JSON
        assert isinstance(body, dict | list | str), body
