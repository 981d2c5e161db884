"""Choosing a compute environment: an explicit id, or the cheapest one meeting selectors."""

from __future__ import annotations

from collections.abc import Sequence

from specrunner.errors import PlanError
from specrunner.ocean.models import ComputeEnvironment
from specrunner.resolve.models import ResolvedEnvironment
from specrunner.spec import EnvironmentSpec


def select_environment(
    envs: Sequence[ComputeEnvironment], wanted: EnvironmentSpec, provider: str
) -> ResolvedEnvironment:
    """The environment to run on, with the reason; raises PlanError when none fits.

    Ties between equally cheap environments break on (fewest CPUs, least RAM, id) so the
    choice never depends on the order a provider lists them in.
    """
    if wanted.id is not None:
        env = next((e for e in envs if e.id == wanted.id), None)
        if env is None:
            known = ", ".join(sorted(e.id for e in envs)) or "none"
            raise PlanError(
                f"environment {wanted.id!r} is not offered by {provider} (it offers: {known})"
            )
        return _resolved(env, "named in the spec")
    matching = [env for env in envs if not _mismatches(env, wanted)]
    if not matching:
        why = "; ".join(f"{env.id}: {', '.join(_mismatches(env, wanted))}" for env in envs)
        raise PlanError(
            f"no environment of {provider} meets the selectors ({why or 'none offered'})"
        )
    matching.sort(key=lambda e: (e.priceMin or 0, e.cpuNumber or 0, e.ramGB or 0, e.id))
    chosen = matching[0]
    others = len(matching) - 1
    reason = "cheapest matching environment" + (f" of {len(matching)}" if others else "")
    selectors = _describe_selectors(wanted)
    return _resolved(chosen, f"{reason} ({selectors})" if selectors else reason)


def _mismatches(env: ComputeEnvironment, wanted: EnvironmentSpec) -> list[str]:
    """Why `env` fails the selectors; empty when it meets them all."""
    price = env.priceMin or 0
    problems: list[str] = []
    if wanted.free is True and price != 0:
        problems.append(f"not free (priceMin {price:g})")
    if wanted.free is False and price == 0:
        problems.append("free, but a paid environment was asked for")
    minimums = (
        ("cpu", wanted.min_cpu, env.cpuNumber),
        ("GB RAM", wanted.min_ram_gb, env.ramGB),
        ("GB disk", wanted.min_disk_gb, env.diskGB),
        ("gpu", wanted.min_gpu, env.gpuNumber),
    )
    for unit, minimum, offered in minimums:
        if minimum is not None and (offered or 0) < minimum:
            problems.append(f"{offered or 0:g} {unit} < {minimum:g}")
    for request in wanted.resources:
        offered = _offered(env, request.id)
        if offered < request.amount:
            problems.append(f"{offered:g} {request.id} < {request.amount:g} asked")
    if wanted.max_price_min is not None and price > wanted.max_price_min:
        problems.append(f"priceMin {price:g} > {wanted.max_price_min:g}")
    if wanted.fee_token is not None and (env.feeToken or "").lower() != wanted.fee_token.lower():
        problems.append(f"fee token {env.feeToken}")
    return problems


def _offered(env: ComputeEnvironment, resource_id: str) -> float:
    """How much of a resource an environment offers a job: Provider v2 fields for cpu,
    ram and disk, else ocean-node's `resources` list (its max), else a matching GPU type."""
    base = {"cpu": env.cpuNumber, "ram": env.ramGB, "disk": env.diskGB}
    if resource_id in base:
        return float(base[resource_id] or 0)
    listed = getattr(env, "resources", None) or []
    for resource in listed:
        if isinstance(resource, dict) and resource.get("id") == resource_id:
            return float(resource.get("max", resource.get("total")) or 0)
    if env.gpuType and resource_id in str(env.gpuType).split(","):
        return float(env.gpuNumber or 0)
    return 0.0


def _describe_selectors(wanted: EnvironmentSpec) -> str:
    shown = wanted.model_dump(by_alias=True, exclude_none=True, exclude={"id", "resources"})
    return ", ".join(f"{key}={value}" for key, value in shown.items())


def _resolved(env: ComputeEnvironment, reason: str) -> ResolvedEnvironment:
    free_slots = None
    if env.maxJobs is not None:
        free_slots = max(0, env.maxJobs - (env.currentJobs or 0))
    return ResolvedEnvironment(
        id=env.id,
        reason=reason,
        priceMin=env.priceMin or 0,
        freeSlots=free_slots,
        maxJobDuration=env.maxJobDuration,
    )
