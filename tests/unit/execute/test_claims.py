"""How a refused start is read: off the provider's error body, as the client decodes it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from specrunner.errors import ProviderError, ProviderUnreachableError
from specrunner.execute.claims import Refusal, start_refusal
from specrunner.ocean.protocol import error_from_response


def refused(status: int, body: Any) -> ProviderError:
    """The ProviderError our client raises for this answer to a start request."""
    return error_from_response(httpx.Response(status, json=body), "computeStart")


@pytest.mark.parametrize(
    ("status", "body", "meaning"),
    [
        # Provider v2 and our provider (server/workflow.py), reference §8.3 and §8.5.
        (400, {"error": {"dataset.serviceId": "order_invalid"}}, "order_invalid"),
        (400, {"error": {"algorithm.serviceId": "order_invalid"}}, "order_invalid"),
        (400, {"error": {"dataset.serviceId": ["order_invalid"]}}, "order_invalid"),
        # The operator-service's answer, passed through (§8.4, server/routes/compute.py).
        (400, {"error": "`agreementId` already in use for other job."}, "in_use"),
        # Other refusals are not retried or adopted.
        (400, {"error": {"dataset": "no_raw_algo_allowed"}}, None),
        (400, {"error": {"algorithm": "in_use_or_not_on_chain"}}, None),
        (400, {"error": "Environment invalid or does not exist"}, None),
        (400, {"errors": {"signature": ["Invalid signature"]}}, None),
        (503, "no free slot", None),
    ],
)
def test_a_refused_start_is_classified_by_the_answers_body(
    status: int, body: Any, meaning: Refusal | None
) -> None:
    assert start_refusal(refused(status, body)) == meaning


def test_no_answer_at_all_means_the_start_may_have_arrived() -> None:
    error = ProviderUnreachableError("computeStart: no answer", endpoint="computeStart")
    assert start_refusal(error) == "unreachable"


def test_our_own_wording_of_an_error_is_not_mistaken_for_the_providers_code() -> None:
    # A message that merely mentions the code (a proxy's page, say) classifies as nothing.
    error = ProviderError("computeStart failed: see order_invalid docs", payload="<html>")
    assert start_refusal(error) is None
