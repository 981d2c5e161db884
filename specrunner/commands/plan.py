"""`specrunner plan`: what apply would do and why. Never starts a job or writes the lock."""

from __future__ import annotations

from pathlib import Path

from specrunner.commands._session import open_session
from specrunner.lockfile import load_lock
from specrunner.manifest.loader import load_manifests
from specrunner.plan import Plan, make_plan
from specrunner.report import Reporter


def build_plan(
    paths: list[str],
    lockfile: Path,
    *,
    targets: list[str] | None = None,
    replace: list[str] | None = None,
) -> Plan:
    """Load, resolve (the only I/O) and plan; raises SpecRunnerError subclasses."""
    specs = load_manifests(paths)
    lock = load_lock(lockfile)
    with open_session(specs) as session:
        resolved = session.resolver.resolve_all(specs)
    return make_plan(resolved, lock, targets=targets or (), replace=replace or ())


def run(
    paths: list[str],
    lockfile: str,
    reporter: Reporter,
    detailed_exitcode: bool = False,
    targets: list[str] | None = None,
    replace: list[str] | None = None,
) -> int:
    plan = build_plan(paths, Path(lockfile), targets=targets, replace=replace)
    reporter.plan(plan)
    return 2 if detailed_exitcode and plan.has_changes else 0
