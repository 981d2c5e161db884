"""make_plan is pure: these tests build resolved jobs and locks as data."""

from __future__ import annotations

from specrunner.lockfile import Lock, LockedAlgorithm, LockedJob
from specrunner.plan import make_plan
from specrunner.resolve.models import (
    ResolvedAlgorithm,
    ResolvedEnvironment,
    ResolvedInput,
    ResolvedJob,
)

DIGEST = "sha256:" + "0" * 64


def _job(name: str, fingerprints: dict[str, str] | None = None) -> ResolvedJob:
    prints = {"dataset data.csv": "sha256:d1", "algorithm": "sha256:a1", "customData": "sha256:c1"}
    prints.update(fingerprints or {})
    return ResolvedJob(
        name=name,
        source=f"specs/{name}.yaml:1",
        specDigest=DIGEST,
        provider="embedded",
        chainId=8996,
        owner="0x" + "1" * 40,
        environment=ResolvedEnvironment(id="free", reason="named in the spec"),
        inputs=[
            ResolvedInput(
                did="did:op:" + "a" * 64, serviceId="compute", ddoDigest=DIGEST, label="data.csv"
            )
        ],
        algorithm=ResolvedAlgorithm(digest=DIGEST, label="count.py"),
        outputsDir=f"results/{name}",
        fingerprints=prints,
    )


def _locked(job: ResolvedJob, phase: str = "finished", **changes: object) -> LockedJob:
    return LockedJob.model_validate(
        {
            "specDigest": job.specDigest,
            "fingerprints": job.fingerprints,
            "provider": job.provider,
            "chainId": job.chainId,
            "environment": job.environment.id,
            "owner": job.owner,
            "phase": phase,
            "jobId": "j1",
            "status": 70,
            "statusText": "Job finished",
            "algorithm": LockedAlgorithm(digest=DIGEST).model_dump(),
            **changes,
        }
    )


def test_new_jobs_are_created_and_recorded_ones_kept() -> None:
    one, two = _job("one"), _job("two")
    lock = Lock().with_job("one", _locked(one))
    plan = make_plan([one, two], lock)
    assert [(s.name, s.action, s.reason) for s in plan.steps] == [
        ("one", "keep", "up to date"),
        ("two", "create", "new job"),
    ]
    assert plan.has_changes


def test_nothing_to_do_has_no_changes() -> None:
    one = _job("one")
    assert not make_plan([one], Lock().with_job("one", _locked(one))).has_changes


def test_changed_inputs_replace_with_the_reason() -> None:
    old = _job("one")
    new = _job("one", {"customData": "sha256:c2", "dataset data.csv": "sha256:d2"})
    step = make_plan([new], Lock().with_job("one", _locked(old))).steps[0]
    assert step.action == "replace"
    assert step.changed == ["customData", "dataset data.csv"]
    assert step.reason == "customData, dataset data.csv changed"


def test_unfinished_jobs_resume_and_failed_ones_rerun() -> None:
    one, two, three = _job("one"), _job("two"), _job("three")
    lock = (
        Lock()
        .with_job("one", _locked(one, "started"))
        .with_job("two", _locked(two, "pending", jobId=None))
        .with_job("three", _locked(three, "failed", error="exit code 3"))
    )
    steps = make_plan([one, two, three], lock).steps
    assert [(s.action, s.reason) for s in steps] == [
        ("resume", "recorded, unfinished (job j1)"),
        ("resume", "recorded, unfinished (not yet started)"),
        ("replace", "previous run failed: exit code 3"),
    ]


def test_orphans_are_reported_in_name_order_and_targets_narrow() -> None:
    one = _job("one")
    lock = Lock().with_job("zeta", _locked(_job("zeta"))).with_job("alpha", _locked(_job("alpha")))
    plan = make_plan([one], lock)
    assert [(s.name, s.action) for s in plan.steps] == [
        ("one", "create"),
        ("alpha", "orphan"),
        ("zeta", "orphan"),
    ]
    targeted = make_plan([one, _job("two")], lock, targets={"two"})
    assert [(s.name, s.action) for s in targeted.steps] == [("two", "create")]


def test_replace_forces_a_rerun() -> None:
    one = _job("one")
    step = make_plan([one], Lock().with_job("one", _locked(one)), replace={"one"}).steps[0]
    assert (step.action, step.reason) == ("replace", "requested with --replace")


def test_unknown_target_or_replace_is_an_error() -> None:
    import pytest

    from specrunner.errors import PlanError

    with pytest.raises(PlanError, match=r"no spec named 'nosuch' \(the specs name: one\)"):
        make_plan([_job("one")], Lock(), targets={"nosuch"})
    with pytest.raises(PlanError, match="'typo'"):
        make_plan([_job("one")], Lock(), replace={"typo"})


def test_ddo_digest_ignores_what_aquarius_changes() -> None:
    from specrunner.resolve.digests import ddo_digest

    ddo = {
        "id": "did:op:1",
        "metadata": {"name": "x"},
        "services": [{"id": "compute", "serviceEndpoint": "http://a", "files": "0x1"}],
    }
    moved = {
        **ddo,
        "stats": {"orders": 4},
        "event": {"tx": "0x2"},
        "services": [{**ddo["services"][0], "serviceEndpoint": "http://b"}],
    }
    assert ddo_digest(ddo) == ddo_digest(moved)
    assert ddo_digest(ddo) != ddo_digest({**ddo, "metadata": {"name": "y"}})
