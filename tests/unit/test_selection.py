from __future__ import annotations

import pytest

from specrunner.errors import PlanError
from specrunner.ocean.models import ComputeEnvironment
from specrunner.resolve.environments import select_environment
from specrunner.spec import EnvironmentSpec

ENVS = [
    # Numbers as strings, as operator-engine sends configured values (reference §4.4).
    ComputeEnvironment.model_validate(
        {
            "id": "big-paid",
            "priceMin": "0.5",
            "cpuNumber": "8",
            "ramGB": "32",
            "diskGB": 100,
            "maxJobs": 4,
            "currentJobs": 1,
        }
    ),
    ComputeEnvironment.model_validate(
        {"id": "b-free", "priceMin": 0, "cpuNumber": 2, "ramGB": 4, "diskGB": 10}
    ),
    ComputeEnvironment.model_validate(
        {"id": "a-free", "priceMin": "0", "cpuNumber": 2, "ramGB": 4, "diskGB": 10}
    ),
    ComputeEnvironment.model_validate(
        {"id": "gpu", "priceMin": 2, "cpuNumber": 4, "gpuNumber": 1, "ramGB": 16, "diskGB": 50}
    ),
]


def _select(**selectors: object) -> str:
    return select_environment(ENVS, EnvironmentSpec.model_validate(selectors), "P").id


def test_cheapest_wins_and_ties_break_by_size_then_id() -> None:
    assert _select() == "a-free"
    assert _select(free=True) == "a-free"
    assert select_environment(list(reversed(ENVS)), EnvironmentSpec(), "P").id == "a-free"


def test_selectors_filter() -> None:
    assert _select(minCpu=4) == "big-paid"
    assert _select(minGpu=1) == "gpu"
    assert _select(minRamGB=8, maxPriceMin=1) == "big-paid"
    assert _select(free=False) == "big-paid"


def test_reason_names_the_selectors() -> None:
    chosen = select_environment(ENVS, EnvironmentSpec.model_validate({"minCpu": 4}), "P")
    assert chosen.reason == "cheapest matching environment of 2 (minCpu=4)"
    assert chosen.freeSlots == 3 and chosen.priceMin == 0.5


def test_explicit_id_and_its_errors() -> None:
    assert _select(id="gpu") == "gpu"
    with pytest.raises(PlanError, match="'nope' is not offered by P"):
        _select(id="nope")


def test_no_match_explains_each_environment() -> None:
    with pytest.raises(PlanError, match="gpu: not free") as caught:
        _select(free=True, minGpu=1)
    assert "a-free: 0 gpu < 1" in str(caught.value)


def test_resources_by_id_select_environments_that_offer_them() -> None:
    node_env = ComputeEnvironment.model_validate(
        {
            "id": "node",
            "priceMin": 0,
            "cpuNumber": 4,
            "ramGB": 16,
            "diskGB": 100,
            "resources": [{"id": "cpu", "max": 4}, {"id": "nvidia-a100", "type": "gpu", "max": 2}],
        }
    )
    envs = [*ENVS, node_env]

    def pick(*resources: tuple[str, float]) -> str:
        wanted = EnvironmentSpec.model_validate(
            {"resources": [{"id": i, "amount": a} for i, a in resources]}
        )
        return select_environment(envs, wanted, "P").id

    assert pick(("cpu", 2)) == "a-free"
    assert pick(("cpu", 4), ("ram", 16)) == "node"
    assert pick(("nvidia-a100", 2)) == "node"
    with pytest.raises(PlanError, match="0 nvidia-a100 < 3 asked"):
        pick(("nvidia-a100", 3))
