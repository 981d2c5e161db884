"""`specrunner apply`: run the plan, recording every state change in the lockfile."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from specrunner.commands._session import open_session
from specrunner.errors import SpecRunnerError
from specrunner.execute.executor import Executor
from specrunner.lockfile import LockWriter, exclusive, load_lock
from specrunner.manifest.loader import load_manifests
from specrunner.plan import CHANGING, make_plan
from specrunner.report import Reporter


@dataclass(frozen=True)
class ApplyOptions:
    lockfile: str = "specrunner.lock.json"
    parallelism: int = 2
    targets: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    wait: bool = True
    prune: bool = False
    lock_timeout: float = 30.0


def run(paths: list[str], options: ApplyOptions, reporter: Reporter) -> int:
    specs = load_manifests(paths)
    if not options.wait and any(spec.provider is None for spec in specs):
        raise SpecRunnerError(
            "--no-wait needs a provider that outlives this command; the embedded provider "
            "stops when apply ends: run `specrunner provider serve` and set provider.url"
        )
    lockfile = Path(options.lockfile)
    with (
        exclusive(lockfile, timeout=options.lock_timeout),
        open_session(specs, share=False) as session,
    ):
        lock = load_lock(lockfile)
        resolved = session.resolver.resolve_all(specs)
        plan = make_plan(resolved, lock, targets=options.targets, replace=options.replace)
        reporter.apply_plan(plan, prune=options.prune)
        with reporter.apply_events([step.name for step in plan.steps]) as emit:
            executor = Executor(
                client=session.client,
                signers=session.resolver.signers,
                writer=LockWriter(lockfile, lock),
                emit=emit,
                workdir=Path.cwd(),
                parallelism=max(1, options.parallelism),
                wait=options.wait,
                prune=options.prune,
            )
            outcomes = executor.execute(plan)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        listed = ", ".join(f"{o.name} ({o.message})" for o in failed)
        raise SpecRunnerError(f"{len(failed)} job{'s' if len(failed) > 1 else ''} failed: {listed}")
    reporter.apply_complete(sum(1 for o in outcomes if o.action in CHANGING), str(lockfile))
    return 0
