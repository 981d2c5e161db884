"""The ocean-node dialect of the compute API (reference §10.2, §10.3), as pure functions.

ocean-node signs `consumerAddress + nonce + command`, starts free jobs at
`/api/services/freeCompute` with a `datasets` list, lists environments as a flat array with
`resources`, per-chain `fees` and an optional `free` block, and ends jobs with status codes
0 to 71. Everything here maps those shapes to and from what `OceanCompute` speaks.
"""

from __future__ import annotations

from typing import Any

from specrunner.ocean.models import FAILURE_STATUSES

FREE_START = "freeStartCompute"
STOP = "stopCompute"
GET_RESULT = "getComputeResult"
STREAM_LOGS = "getComputeStreamableLogs"

BASE_RESOURCES = ("cpu", "ram", "disk")

__all__ = ["FAILURE_STATUSES", "normalize_environment", "start_body"]


def signed_message(address: str, nonce: int | str, command: str) -> str:
    """What ocean-node verifies: the address as sent, the nonce, then the command."""
    return f"{address}{nonce}{command}"


def start_body(payload: dict[str, Any]) -> dict[str, Any]:
    """A free start body from the Provider v2 payload `OceanCompute` builds (§10.3):
    `dataset` plus `additionalDatasets` become one `datasets` list; the rest is kept."""
    body = {
        key: value
        for key, value in payload.items()
        if key not in ("dataset", "additionalDatasets", "additionalInputs")
    }
    body["datasets"] = [payload["dataset"], *payload.get("additionalDatasets", [])]
    return body


def is_node_environment(env: dict[str, Any]) -> bool:
    """An ocean-node environment: resources or fees, and no Provider v2 `priceMin`."""
    return "priceMin" not in env and ("resources" in env or "fees" in env or "free" in env)


def normalize_environment(env: dict[str, Any], chain_id: int) -> dict[str, Any]:
    """Provider v2 field names for an ocean-node environment, so selectors mean the same:
    cpu/ram/disk/gpu from `resources` (their max), `priceMin` 0 when a free tier exists,
    else the per-minute price of the minimum resources in the chain's first fee token."""
    resources = [r for r in env.get("resources") or [] if isinstance(r, dict)]
    by_id = {str(r.get("id")): r for r in resources}
    gpus = [
        r
        for r in resources
        if str(r.get("id")) not in BASE_RESOURCES and str(r.get("type", "gpu")) == "gpu"
    ]
    fee = _first_fee(env, chain_id)
    free = env.get("free") if isinstance(env.get("free"), dict) else None
    normalized = {
        **env,
        "cpuNumber": _amount(by_id.get("cpu")),
        "ramGB": _amount(by_id.get("ram")),
        "diskGB": _amount(by_id.get("disk")),
        "gpuNumber": sum(_amount(r) or 0 for r in gpus),
        "gpuType": ",".join(str(r.get("description") or r.get("id")) for r in gpus),
        "priceMin": 0 if free is not None else _price_per_minute(fee, by_id),
        "feeToken": fee.get("feeToken") if fee else None,
        "currentJobs": env.get("runningJobs"),
        "maxJobs": (free or {}).get("maxJobs", env.get("maxJobs")),
        "maxJobDuration": (free or {}).get("maxJobDuration", env.get("maxJobDuration")),
        "desc": env.get("description", ""),
    }
    return normalized


def _amount(resource: dict[str, Any] | None) -> float | None:
    if resource is None:
        return None
    value = resource.get("max", resource.get("total"))
    return float(value) if isinstance(value, int | float) else None


def _first_fee(env: dict[str, Any], chain_id: int) -> dict[str, Any] | None:
    fees = env.get("fees")
    if not isinstance(fees, dict):
        return None
    entries = fees.get(str(chain_id)) or []
    return entries[0] if entries and isinstance(entries[0], dict) else None


def _price_per_minute(fee: dict[str, Any] | None, resources: dict[str, Any]) -> float | None:
    """Cost of one minute at the minimum amounts: price x amount per resource (§A.0)."""
    if fee is None:
        return None
    total = 0.0
    for price in fee.get("prices") or []:
        resource = resources.get(str(price.get("id")), {})
        amount = resource.get("min") or 1
        total += float(price.get("price") or 0) * float(amount)
    return total
