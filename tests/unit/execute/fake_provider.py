"""A compute provider built from data, for the executor's unit tests (pip-tools' FakeRepository).

No HTTP and no server: it stands for "a provider" at the level the executor sees one, the
`ComputeProvider` Protocol. It keeps its jobs in memory and answers from that state, with
the rules of a Provider v2 that matter to a runner (reference §4, §8):

- `initialize_compute` issues one order per dataset; a start with an order it did not issue
  (or one `expire`d since) is refused `{"error": {"dataset.serviceId": "order_invalid"}}`;
- a start on an order an unfinished job already runs on is refused
  `` {"error": "`agreementId` already in use for other job."} ``;
- each started job follows the next `Script` (statuses poll after poll, its end, results);
- `faults` make one call fail, once each in order, before or after it took effect.

Every call is recorded in `calls` for assertions; `max_running` is the largest number of
jobs seen running at once per environment, `max_total` across environments.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from specrunner.atomic import atomic_writer
from specrunner.errors import ProviderError
from specrunner.ocean.models import AlgorithmMetadata, ComputeInput, JobStatus, ResultFile
from specrunner.ocean.signing import Signer
from specrunner.ocean.transport import Download

CallName = Literal[
    "initialize_compute",
    "start_compute",
    "compute_status",
    "stop_compute",
    "compute_result_urls",
    "download_to",
]

RUNNING = 40  # "Running algorithm" (reference §6.1)
SUCCEEDED = 70  # "Job finished"
IN_USE = {"error": "`agreementId` already in use for other job."}  # reference §8.4
ORDER_INVALID = {"error": {"dataset.serviceId": "order_invalid"}}  # reference §8.3


@dataclass(frozen=True)
class FakeResult:
    """A result file the job produces. `advertised` is the sha256 the provider states, when
    it is not the content's own (a download corrupted on the way)."""

    filename: str
    content: bytes
    type: str = "output"
    advertised: str | None = None

    @property
    def sha256(self) -> str:
        return self.advertised or hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class Script:
    """One job's life at the provider, poll by poll.

    `statuses` are reported one per status poll of that job; the last one ends it (with
    `dateFinished`, and `exit_code`, `reason` and `message` as its terminationDetails).
    `reason` is "provider-restart" for a job the provider lost in a restart. After
    `vanish_after` polls the provider forgets the job altogether.

    `hold_until_running`: the first status poll blocks until that many jobs run at once in
    the job's environment, or `hold_for` seconds passed. The hold ends the moment one job
    more than the executor should allow starts, so a broken bound shows at once.
    """

    statuses: tuple[int, ...] = (RUNNING, SUCCEEDED)
    exit_code: int | None = 0
    reason: str = "exited"
    message: str | None = None
    results: tuple[FakeResult, ...] = ()
    vanish_after: int | None = None
    hold_until_running: int = 0
    hold_for: float = 0.0


@dataclass(frozen=True)
class Fault:
    """`call` raises `error` the next time it is made. `performed`: the call took effect
    first and only its answer was lost (a start that reached the provider)."""

    call: CallName
    error: ProviderError
    performed: bool = False


@dataclass(frozen=True)
class Call:
    """One recorded call: its name, the job it was about, the order it carried or issued."""

    name: CallName
    job_id: str | None = None
    order: str | None = None


@dataclass
class FakeJob:
    job_id: str
    owner: str
    environment: str
    agreement_id: str | None
    metadata: dict[str, Any]
    script: Script
    created: float
    polls: int = 0
    finished: bool = False
    stopped: bool = False
    vanished: bool = False

    def status(self) -> JobStatus:
        script = self.script
        code = script.statuses[min(self.polls, len(script.statuses)) - 1] if self.polls else 1
        results = [
            ResultFile(
                filename=result.filename,
                filesize=len(result.content),
                type=result.type,
                index=index,
                sha256=result.sha256,
            )
            for index, result in enumerate(script.results)
        ]
        details: dict[str, Any] = {"exitCode": script.exit_code, "reason": script.reason}
        if script.message is not None:
            details["message"] = script.message
        return JobStatus.model_validate(
            {
                "jobId": self.job_id,
                "owner": self.owner,
                "agreementId": self.agreement_id,
                "status": code,
                "statusText": f"status {code}",
                "dateCreated": f"{self.created:.6f}",
                "dateFinished": f"{time.time():.6f}" if self.finished else None,
                "results": results if self.finished else [],
                "stopreq": int(self.stopped),
                "terminationDetails": details if self.finished else None,
                "metadata": self.metadata,
            }
        )


@dataclass
class FakeProvider:
    """A provider whose jobs follow `scripts`, in start order (then `default`)."""

    scripts: list[Script] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    default: Script = field(default_factory=Script)
    refuse_orders: bool = False  # every start is refused order_invalid (fees never paid)
    # Called inside every start request that is accepted, before the job exists.
    on_start: Callable[[], None] | None = None
    calls: list[Call] = field(default_factory=list)
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    orders: set[str] = field(default_factory=set)
    max_running: dict[str, int] = field(default_factory=dict)
    max_total: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _issued: int = 0

    # --- setting the scene -------------------------------------------------------------

    def add_job(
        self,
        owner: str,
        agreement_id: str | None,
        script: Script | None = None,
        environment: str = "env",
        age: float = 0.0,
    ) -> FakeJob:
        """A job now running at the provider, started `age` seconds ago (by someone else,
        or by an earlier run whose answer was lost)."""
        with self._changed:
            job = FakeJob(
                job_id=f"job-{len(self.jobs) + 1}",
                owner=owner.lower(),
                environment=environment,
                agreement_id=agreement_id,
                metadata={},
                script=script or self.default,
                created=time.time() - age,
            )
            self.jobs[job.job_id] = job
            self.max_running[environment] = max(
                self.max_running.get(environment, 0), self.running(environment)
            )
            self.max_total = max(self.max_total, self.running())
            self._changed.notify_all()
            return job

    def expire(self, order: str) -> None:
        """The order is no longer valid (its service timeout passed)."""
        with self._changed:
            self.orders.discard(order)

    # --- what tests read ---------------------------------------------------------------

    def names(self) -> list[CallName]:
        return [call.name for call in self.calls]

    def count(self, name: CallName) -> int:
        return sum(1 for call in self.calls if call.name == name)

    def running(self, environment: str | None = None) -> int:
        """Jobs started and not yet ended (in `environment`, or anywhere)."""
        return sum(
            1
            for job in self.jobs.values()
            if not job.finished and not job.vanished and environment in (None, job.environment)
        )

    # --- the ComputeProvider calls ------------------------------------------------------

    def initialize_compute(
        self,
        service_endpoint: str,
        datasets: Sequence[ComputeInput],
        algorithm: ComputeInput | AlgorithmMetadata,
        compute_environment: str,
        valid_until: int,
        consumer_address: str,
    ) -> dict[str, Any]:
        with self._changed:
            self._raise(self._fault("initialize_compute"))
            issued = []
            for _ in datasets:
                self._issued += 1
                issued.append(f"0x{self._issued:064x}")
            self.orders.update(issued)
            self.calls.append(Call("initialize_compute", order=issued[0] if issued else None))
            return {"datasets": [{"validOrder": order} for order in issued], "algorithm": {}}

    def start_compute(
        self, service_endpoint: str, consumer_wallet: Signer, payload: dict[str, Any]
    ) -> JobStatus:
        with self._changed:
            order = payload["dataset"].get("transferTxId")
            self.calls.append(Call("start_compute", order=order))
            fault = self._fault("start_compute")
            if fault is not None and not fault.performed:
                raise fault.error
            if order not in self.orders or self.refuse_orders:
                raise ProviderError(
                    "computeStart failed (HTTP 400): dataset.serviceId: order_invalid",
                    status_code=400,
                    payload=ORDER_INVALID,
                    endpoint="computeStart",
                )
            if any(j.agreement_id == order and not j.finished for j in self.jobs.values()):
                raise ProviderError(
                    f"computeStart failed (HTTP 400): {IN_USE['error']}",
                    status_code=400,
                    payload=IN_USE,
                    endpoint="computeStart",
                )
            if self.on_start is not None:
                self.on_start()
            script = self.scripts.pop(0) if self.scripts else self.default
            job = self.add_job(consumer_wallet.address, order, script, payload["environment"])
            job.metadata = dict(payload.get("metadata") or {})
            self._raise(fault)  # performed: the job runs, but its answer is lost
            return job.status()

    def compute_status(
        self, service_endpoint: str, consumer_address: str, job_id: str | None = None
    ) -> list[JobStatus]:
        with self._changed:
            self.calls.append(Call("compute_status", job_id=job_id))
            self._raise(self._fault("compute_status"))
            owned = [
                job
                for job in self.jobs.values()
                if job.owner == consumer_address.lower() and not job.vanished
            ]
            if job_id is None:
                return [job.status() for job in owned]
            found = [job for job in owned if job.job_id == job_id]
            for job in found:
                self._poll(job)
            return [job.status() for job in found if not job.vanished]

    def stop_compute(
        self, service_endpoint: str, wallet: Signer, job_id: str, did: str
    ) -> list[JobStatus]:
        with self._changed:
            self.calls.append(Call("stop_compute", job_id=job_id))
            self._raise(self._fault("stop_compute"))
            job = self.jobs.get(job_id)
            if job is None:
                return []
            job.stopped = job.finished = True
            self._changed.notify_all()
            return [job.status()]

    def compute_result_urls(
        self, service_endpoint: str, wallet: Signer, job_id: str, indexes: Sequence[int]
    ) -> list[str]:
        with self._changed:
            self.calls.append(Call("compute_result_urls", job_id=job_id))
            self._raise(self._fault("compute_result_urls"))
            return [f"fake://{job_id}/{index}" for index in indexes]

    def download_to(self, url: str, path: Path | str) -> Download:
        job_id, index = url.removeprefix("fake://").rsplit("/", 1)
        with self._changed:
            self.calls.append(Call("download_to", job_id=job_id))
            self._raise(self._fault("download_to"))
            content = self.jobs[job_id].script.results[int(index)].content
        with atomic_writer(Path(path)) as handle:
            handle.write(content)
        return Download(Path(path), len(content), hashlib.sha256(content).hexdigest())

    # --- inside ---------------------------------------------------------------------

    def _poll(self, job: FakeJob) -> None:
        script = job.script
        if job.finished:
            return
        if job.polls == 0 and script.hold_until_running:
            self._changed.wait_for(
                lambda: self.running(job.environment) >= script.hold_until_running,
                timeout=script.hold_for,
            )
        job.polls += 1
        if script.vanish_after is not None and job.polls > script.vanish_after:
            job.vanished = True
        elif job.polls >= len(script.statuses):
            job.finished = True
        self._changed.notify_all()

    def _fault(self, call: CallName) -> Fault | None:
        for position, fault in enumerate(self.faults):
            if fault.call == call:
                return self.faults.pop(position)
        return None

    @staticmethod
    def _raise(fault: Fault | None) -> None:
        if fault is not None:
            raise fault.error
