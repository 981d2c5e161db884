"""Executor concurrency bounds, as data: no provider is contacted."""

from __future__ import annotations

from pathlib import Path

from specrunner.execute.executor import Executor
from specrunner.lockfile import Lock, LockWriter
from specrunner.plan import Step
from specrunner.resolve.models import ResolvedAlgorithm, ResolvedEnvironment, ResolvedJob

DIGEST = "sha256:" + "0" * 64


def _step(name: str, env: str, free_slots: int | None) -> Step:
    job = ResolvedJob(
        name=name,
        source=name,
        specDigest=DIGEST,
        provider="http://p",
        chainId=1,
        owner="0x" + "1" * 40,
        inputs=[],
        environment=ResolvedEnvironment(id=env, reason="r", freeSlots=free_slots),
        algorithm=ResolvedAlgorithm(digest=DIGEST, label="a"),
        outputsDir=f"results/{name}",
    )
    return Step(name=name, action="create", reason="new job", job=job)


def _executor(tmp_path: Path, parallelism: int) -> Executor:
    writer = LockWriter(tmp_path / "specrunner.lock.json", Lock())
    return Executor(
        client=None,
        signers={},
        writer=writer,
        emit=lambda _: None,  # type: ignore[arg-type]
        workdir=tmp_path,
        parallelism=parallelism,
    )


def test_parallelism_per_environment_never_above_its_free_slots(tmp_path: Path) -> None:
    executor = _executor(tmp_path, parallelism=3)
    busy = executor._slot(_step("a", "busy", free_slots=1))
    roomy = executor._slot(_step("b", "roomy", free_slots=10))
    unknown = executor._slot(_step("c", "unknown", free_slots=None))
    assert (busy._value, roomy._value, unknown._value) == (1, 3, 3)
    # One semaphore per (provider, environment): jobs of one environment share it.
    assert executor._slot(_step("d", "busy", free_slots=5)) is busy


def test_a_full_environment_still_runs_one_job_at_a_time(tmp_path: Path) -> None:
    assert _executor(tmp_path, 2)._slot(_step("a", "full", free_slots=0))._value == 1
