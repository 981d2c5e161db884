"""A workspace, its lockfile and a fake provider: `Scene.apply` runs a plan as `apply` does.

Each apply loads the lock from disk, plans against it with `make_plan` and executes with a
poll policy that never waits, so a rerun sees exactly what the previous one recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrunner.execute.executor import Executor, Outcome
from specrunner.execute.jobrun import PollPolicy
from specrunner.lockfile import Lock, LockedJob, LockWriter, load_lock
from specrunner.ocean.signing import Signer
from specrunner.plan import make_plan
from specrunner.resolve.models import (
    ResolvedAlgorithm,
    ResolvedEnvironment,
    ResolvedInput,
    ResolvedJob,
)
from tests.unit.execute.fake_provider import FakeProvider

SIGNER = Signer.from_key("0x" + "11" * 32)
PROVIDER = "http://provider.test"
DATASET = "did:op:" + "a" * 64
DIGEST = "sha256:" + "0" * 64
NO_WAIT = PollPolicy(first=0.0, longest=0.0, grace=0.0)  # tests never sleep

Event = dict[str, Any]  # what `Emit` carries: the JSON events of `apply --output json`


def build_job(
    name: str = "job",
    *,
    environment: str = "env",
    free_slots: int | None = None,
    retries: int = 0,
    version: int = 1,
) -> ResolvedJob:
    """A resolved Provider v2 job with one dataset and a raw algorithm; `version` changes
    its fingerprint (an edited spec, so the plan replaces it)."""
    fingerprint = "sha256:" + hashlib.sha256(f"{name}{version}".encode()).hexdigest()
    return ResolvedJob(
        name=name,
        source=f"{name}.yaml:1",
        specDigest=fingerprint,
        provider=PROVIDER,
        chainId=8996,
        owner=SIGNER.address,
        environment=ResolvedEnvironment(id=environment, reason="named", freeSlots=free_slots),
        inputs=[ResolvedInput(did=DATASET, serviceId="compute", ddoDigest=DIGEST, label=DATASET)],
        algorithm=ResolvedAlgorithm(
            digest=DIGEST, label="algo.py", meta={"rawcode": "print(1)", "language": "python"}
        ),
        retries=retries,
        outputsDir=f"results/{name}",
        fingerprints={"algorithm": fingerprint},
    )


@dataclass
class Scene:
    workdir: Path
    provider: FakeProvider = field(default_factory=FakeProvider)
    events: list[Event] = field(default_factory=list)

    @property
    def lockfile(self) -> Path:
        return self.workdir / "specrunner.lock.json"

    def lock(self) -> Lock:
        return load_lock(self.lockfile)

    def entry(self, name: str = "job") -> LockedJob:
        return self.lock().jobs[name]

    def apply(
        self,
        *jobs: ResolvedJob,
        parallelism: int = 2,
        replace: Collection[str] = (),
        wait: bool = True,
    ) -> list[Outcome]:
        """Plan `jobs` against the recorded lock and execute the plan against the fake."""
        lock = self.lock()
        executor = Executor(
            client=self.provider,
            signers={SIGNER.address: SIGNER},
            writer=LockWriter(self.lockfile, lock),
            emit=self.events.append,
            workdir=self.workdir,
            parallelism=parallelism,
            wait=wait,
            poll=NO_WAIT,
        )
        return executor.execute(make_plan(list(jobs), lock, replace=replace))

    def kinds(self) -> list[str]:
        """The events' kinds, in order."""
        return [str(event["event"]) for event in self.events]
