"""`make_plan(resolved, lock)`: what apply will do and why, computed before anything runs.

Pure: no I/O, and the steps come in a stable order (the specs' order, then orphans by
name), so the same inputs always print the same plan.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from specrunner.errors import PlanError
from specrunner.lockfile import Lock, LockedJob
from specrunner.resolve.models import ResolvedJob

Action = Literal["create", "replace", "keep", "resume", "orphan"]
CHANGING: frozenset[str] = frozenset({"create", "replace", "resume"})


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    action: Action
    reason: str
    changed: list[str] = []
    job: ResolvedJob | None = None
    locked: LockedJob | None = None


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[Step]

    @property
    def has_changes(self) -> bool:
        return any(step.action in CHANGING for step in self.steps)

    def count(self, action: Action) -> int:
        return sum(1 for step in self.steps if step.action == action)


def make_plan(
    resolved: Sequence[ResolvedJob],
    lock: Lock,
    *,
    replace: Collection[str] = (),
    targets: Collection[str] = (),
) -> Plan:
    """One step per spec (create, replace, keep or resume) and per orphaned lock entry.

    `replace` forces those jobs to run again; `targets`, when given, limits the plan to
    those names (orphans are then not reported).
    """
    known = {job.name for job in resolved}
    unknown = sorted((set(targets) | set(replace)) - known)
    if unknown:
        raise PlanError(
            f"no spec named {', '.join(repr(n) for n in unknown)} "
            f"(the specs name: {', '.join(sorted(known)) or 'none'})"
        )
    steps: list[Step] = []
    for job in resolved:
        if targets and job.name not in targets:
            continue
        steps.append(_step_for(job, lock.jobs.get(job.name), job.name in replace))
    if not targets:
        names = {job.name for job in resolved}
        for name in sorted(set(lock.jobs) - names):
            steps.append(
                Step(
                    name=name,
                    action="orphan",
                    locked=lock.jobs[name],
                    reason="in the lockfile but no longer in the specs",
                )
            )
    return Plan(steps=steps)


def _step_for(job: ResolvedJob, locked: LockedJob | None, forced: bool) -> Step:
    if locked is None:
        return Step(name=job.name, action="create", reason="new job", job=job)
    changed = changed_inputs(job, locked)
    if forced:
        return Step(
            name=job.name,
            action="replace",
            reason="requested with --replace",
            changed=changed,
            job=job,
            locked=locked,
        )
    if changed:
        return Step(
            name=job.name,
            action="replace",
            reason=_describe(changed),
            changed=changed,
            job=job,
            locked=locked,
        )
    if locked.phase in ("pending", "started"):
        what = "not yet started" if locked.phase == "pending" else f"job {locked.jobId}"
        return Step(
            name=job.name,
            action="resume",
            reason=f"recorded, unfinished ({what})",
            job=job,
            locked=locked,
        )
    if locked.phase == "failed":
        detail = locked.error or f"status {locked.status} {locked.statusText or ''}".strip()
        return Step(
            name=job.name,
            action="replace",
            reason=f"previous run failed: {detail}",
            job=job,
            locked=locked,
        )
    return Step(name=job.name, action="keep", reason="up to date", job=job, locked=locked)


def changed_inputs(job: ResolvedJob, locked: LockedJob) -> list[str]:
    """Fingerprint keys whose digest differs from the lock, or that appeared or went."""
    keys = sorted(set(job.fingerprints) | set(locked.fingerprints))
    return [key for key in keys if job.fingerprints.get(key) != locked.fingerprints.get(key)]


def _describe(changed: list[str]) -> str:
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"{shown} changed"
