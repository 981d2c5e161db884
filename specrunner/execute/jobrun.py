"""One job's life under apply: order, record, start (or adopt), follow, download.

Crash safety (design §6): the orders a job will use are written to the lock *before* the
start request; the main order becomes the job's `agreementId`. A rerun that finds a
pending entry first looks for a job with that agreementId among the owner's jobs and
adopts it, so a job is never started twice for one spec.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specrunner.errors import JobFailedError, ProviderError, SpecRunnerError
from specrunner.execute.claims import (
    adoptable,
    claim_of,
    job_claim,
    node_extras,
    pending_entry,
    start_refusal,
)
from specrunner.execute.payloads import algorithm_input, dataset_input, valid_order
from specrunner.execute.results import extract_tar, placement, result_path
from specrunner.lockfile import (
    LockedJob,
    LockedResult,
    LockWriter,
)
from specrunner.ocean.compute import build_start_payload
from specrunner.ocean.models import AlgorithmMetadata, ComputeInput, JobStatus, ResultFile
from specrunner.ocean.port import ComputeProvider
from specrunner.ocean.protocol import OCEAN_NODE
from specrunner.ocean.signing import Signer
from specrunner.resolve.models import ResolvedJob

Emit = Callable[[dict[str, Any]], None]
SUCCESS_STATUSES = (70, 71)  # 71 "Job settling" is success on ocean-node (reference §10.3)


@dataclass(frozen=True)
class PollPolicy:
    """Quick to notice a short job's end, polite on long ones: delays grow 1.5 times with ±20%
    jitter from `first` up to `longest` seconds."""

    first: float = 0.05
    longest: float = 5.0
    grace: float = 60.0  # how long to wait for a stopped job to report its end

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not security
            delay = min(self.longest, delay * 1.5)


@dataclass
class JobRun:
    client: ComputeProvider
    signer: Signer
    writer: LockWriter
    emit: Emit
    signing_lock: threading.Lock  # one per (provider, owner): signed calls must not interleave
    poll: PollPolicy
    workdir: Path
    # Set when the user interrupts apply: following stops, the job stays recorded as
    # started, and a later apply or status picks it up.
    cancel: threading.Event = field(default_factory=threading.Event)

    def start(
        self, job: ResolvedJob, pending: LockedJob | None, replaces: str | None = None
    ) -> LockedJob:
        """A started entry for `job`: adopted when the lock's pending claim already ran.

        The claim, written before the start request, is the main order (Provider v2: the
        job's agreementId) or an idempotency key in the job's metadata (ocean-node's free
        jobs take no orders). A start that got no answer, or was refused because its order
        already runs a job, adopts that job; recorded orders refused as invalid are ordered
        again, once. Any other refusal raises ProviderError, the claim staying recorded.
        """
        while True:
            if pending is not None and claim_of(pending):
                adopted = self._adopt(job, pending)
                if adopted is not None:
                    return adopted
                entry = pending
            else:
                entry = self._stake(job, replaces)
            try:
                status = self._send_start(job, entry)
            except ProviderError as exc:
                refusal = start_refusal(exc)
                if refusal in ("unreachable", "in_use"):
                    adopted = self._adopt(job, entry)
                    if adopted is not None:
                        return adopted
                if refusal == "order_invalid" and pending is not None:
                    # The recorded orders expired while nothing ran: order again, once (the
                    # next pass has no pending entry, so it cannot come back here).
                    pending = None
                    continue
                raise
            return self._record_started(job, entry, status)

    def _stake(self, job: ResolvedJob, replaces: str | None) -> LockedJob:
        """A fresh claim, written to the lock before the start request that uses it."""
        entry = self._claimed(job) if job.dialect == OCEAN_NODE else self._order(job)
        # When and over which job the claim was staked: an order can be reused, so only a
        # job started after this moment, and not the one replaced, may be adopted.
        entry = entry.model_copy(update={"claimedAt": time.time(), "replacesJobId": replaces})
        self.writer.put(job.name, entry)
        return entry

    def _claimed(self, job: ResolvedJob) -> LockedJob:
        """A pending entry for an ocean-node free job: no orders, a fresh idempotency key."""
        return pending_entry(
            job, [None] * len(job.inputs), None, idempotencyKey=f"specrunner-{uuid.uuid4().hex}"
        )

    def _order(self, job: ResolvedJob) -> LockedJob:
        valid_until = int(time.time() + (job.timeoutSeconds or 3600) + 3600)
        algorithm: ComputeInput | AlgorithmMetadata = algorithm_input(job)
        answer = self.client.initialize_compute(
            job.provider,
            [dataset_input(job, i) for i in range(len(job.inputs))],
            algorithm,
            job.environment.id,
            valid_until,
            self.signer.address,
        )
        orders = [
            valid_order(item, job, f"dataset {job.inputs[i].label}")
            for i, item in enumerate(answer.get("datasets") or [])
        ]
        if len(orders) != len(job.inputs):
            raise JobFailedError(
                f"{job.name}: initializeCompute answered {len(orders)} orders "
                f"for {len(job.inputs)} datasets"
            )
        algo_order = None
        if job.algorithm.did:
            algo_order = valid_order(answer.get("algorithm") or {}, job, "algorithm")
        return pending_entry(job, list(orders), algo_order)

    def _send_start(self, job: ResolvedJob, entry: LockedJob) -> JobStatus:
        datasets = [
            dataset_input(job, i, entry.inputs[i].transferTxId) for i in range(len(job.inputs))
        ]
        algorithm = algorithm_input(job, entry.algorithm.transferTxId)
        published = algorithm if isinstance(algorithm, ComputeInput) else None
        meta = algorithm if isinstance(algorithm, AlgorithmMetadata) else None
        payload = build_start_payload(
            datasets[0], job.environment.id, published, meta, job.algorithm.customData, datasets[1:]
        )
        if job.dialect == OCEAN_NODE:
            payload.update(node_extras(job, entry))
        with self.signing_lock:
            return self.client.start_compute(job.provider, self.signer, payload)

    def _adopt(self, job: ResolvedJob, entry: LockedJob) -> LockedJob | None:
        claim = claim_of(entry)
        for status in self.client.compute_status(job.provider, self.signer.address):
            if claim is not None and job_claim(status, entry) == claim and adoptable(status, entry):
                self.emit({"event": "adopted", "job": job.name, "jobId": status.jobId})
                return self._record_started(job, entry, status)
        return None

    def _record_started(self, job: ResolvedJob, entry: LockedJob, status: JobStatus) -> LockedJob:
        started = entry.model_copy(
            update={
                "phase": "started",
                "jobId": status.jobId,
                "status": status.status,
                "statusText": status.statusText,
                "dateCreated": status.dateCreated,
            }
        )
        self.writer.put(job.name, started)
        self.emit(
            {
                "event": "started",
                "job": job.name,
                "jobId": status.jobId,
                "environment": job.environment.id,
                "provider": job.provider,
            }
        )
        return started

    def follow(self, job: ResolvedJob, entry: LockedJob) -> tuple[LockedJob, JobStatus]:
        """Poll until the job ends; past `policy.timeout` stop it. Returns the final status."""
        job_id = entry.jobId
        assert job_id is not None
        deadline = _deadline(job, entry)
        stopped_at: float | None = None
        for delay in self.poll.delays():
            status = self._status(job, job_id)
            if status.status != entry.status:
                entry = entry.model_copy(
                    update={"status": status.status, "statusText": status.statusText}
                )
                self.writer.put(job.name, entry)
                self.emit(
                    {
                        "event": "status",
                        "job": job.name,
                        "status": status.status,
                        "statusText": status.statusText.strip(),
                    }
                )
            if status.finished:
                return entry, status
            now = time.time()
            if deadline is not None and now > deadline and stopped_at is None:
                self.stop(job, job_id)
                stopped_at = now
                reason = f"timed out after {job.timeoutSeconds:g}s (policy.timeout): stopped"
                entry = entry.model_copy(update={"error": reason})
                self.writer.put(job.name, entry)
                self.emit({"event": "timeout", "job": job.name, "seconds": job.timeoutSeconds})
            if stopped_at is not None and now - stopped_at > self.poll.grace:
                raise JobFailedError(
                    f"{job.name}: job {job_id} did not end after it was "
                    f"stopped for exceeding its timeout"
                )
            if self.cancel.wait(delay):
                raise JobFailedError(
                    f"{job.name}: interrupted; job {job_id} keeps running and a "
                    "later apply or status picks it up"
                )
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, job: ResolvedJob, job_id: str) -> None:
        with self.signing_lock:
            self.client.stop_compute(job.provider, self.signer, job_id, job.inputs[0].did)

    def _status(self, job: ResolvedJob, job_id: str) -> JobStatus:
        jobs = self.client.compute_status(job.provider, self.signer.address, job_id)
        found = next((j for j in jobs if j.jobId == job_id or job_id.endswith("-" + j.jobId)), None)
        if found is None:
            raise JobFailedError(f"{job.name}: job {job_id} vanished from {job.provider}")
        return found

    def collect(
        self, job: ResolvedJob, entry: LockedJob, status: JobStatus, previous: LockedJob | None
    ) -> LockedJob:
        """Download every result (logs of failed jobs too); record each with its sha256.

        `previous`'s recorded files are removed first. Returns the entry as finished or
        failed; JobFailedError when a result cannot be saved or arrives corrupted (the
        entry then stays started, so the next apply downloads again).
        """
        assert entry.jobId is not None
        remove_results(previous, self.workdir)
        recorded: list[LockedResult] = []
        refused: list[str] = []
        indexes = [
            position if result.index is None else result.index
            for position, result in enumerate(status.results)
        ]
        # One nonce request signs every result URL (not one per file). The URLs work only
        # in order and before the wallet's next signed call, so the signing lock is held
        # until the last one is fetched (as it was around each single download).
        with self.signing_lock:
            urls = self.client.compute_result_urls(job.provider, self.signer, entry.jobId, indexes)
            for result, index, url in zip(status.results, indexes, urls, strict=True):
                saved = self._download_one(job, result, index, url)
                if isinstance(saved, str):
                    # One hostile name must not hold back the other results, nor leave the
                    # job unfinished forever: skip it, and the job ends failed saying why.
                    refused.append(saved)
                    self.emit({"event": "warning", "job": job.name, "message": saved})
                    continue
                recorded.append(saved.result)
                recorded.extend(saved.unpacked)
                refused.extend(saved.skipped)
                entry = entry.model_copy(update={"results": list(recorded)})
                self.writer.put(job.name, entry)
                self.emit(
                    {
                        "event": "result",
                        "job": job.name,
                        "filename": result.filename,
                        "path": saved.result.path,
                        "sha256": saved.result.sha256,
                    }
                )
        if refused:
            entry = entry.model_copy(update={"error": "; ".join(refused)})
        return self._finish(job, entry, status)

    def _download_one(
        self, job: ResolvedJob, result: ResultFile, index: int, url: str
    ) -> _Saved | str:
        """One result saved where it belongs and checked against the provider's sha256
        (an ocean-node archive unpacked too), or why its name was refused.

        JobFailedError when it cannot be written or arrives corrupted; nothing is kept then.
        """
        outputs = self.workdir / job.outputsDir
        kind = placement(job.dialect, result.type, result.filename)
        try:
            target = result_path(outputs, kind, result.filename)
        except SpecRunnerError as exc:
            return str(exc)
        try:
            download = self.client.download_to(url, target)
        except OSError as exc:  # a full disk, a read-only folder: nothing was kept
            raise JobFailedError(
                f"{job.name}: cannot save result {result.filename} to "
                f"{_relative(target, self.workdir)}: {exc.strerror or exc}; the job "
                "stays recorded, and the next apply downloads its results again"
            ) from None
        if result.sha256 and download.sha256 != result.sha256:
            target.unlink(missing_ok=True)
            raise JobFailedError(
                f"{job.name}: result {result.filename} arrived corrupted "
                f"(sha256 {download.sha256}, provider says {result.sha256})"
            )
        saved = LockedResult(
            index=index,
            type=result.type,
            filename=result.filename,
            filesize=download.size,
            sha256=download.sha256,
            path=_relative(target, self.workdir),
        )
        if kind != "archive":
            return _Saved(saved, [], [])
        unpacked, skipped = _unpacked(target, index, outputs, self.workdir)
        return _Saved(saved, unpacked, skipped)

    def _finish(self, job: ResolvedJob, entry: LockedJob, status: JobStatus) -> LockedJob:
        details = status.terminationDetails or {}
        exit_code = details.get("exitCode")
        # A timeout recorded while following explains the stop better than the status does.
        error = entry.error or _failure(status, exit_code, details)
        finished = entry.model_copy(
            update={
                "phase": "failed" if error else "finished",
                "status": status.status,
                "statusText": status.statusText,
                "dateFinished": status.dateFinished,
                "exitCode": exit_code if isinstance(exit_code, int) else None,
                "error": error,
            }
        )
        self.writer.put(job.name, finished)
        self.emit(
            {
                "event": "failed" if error else "finished",
                "job": job.name,
                "jobId": entry.jobId,
                "error": error,
                "results": len(finished.results),
            }
        )
        return finished


@dataclass(frozen=True)
class _Saved:
    """A downloaded result as recorded, and what it unpacked to when it was an archive."""

    result: LockedResult
    unpacked: list[LockedResult]
    skipped: list[str]


def _failure(status: JobStatus, exit_code: Any, details: dict[str, Any]) -> str | None:
    """Why a finished job counts as failed, or None when it succeeded."""
    if status.status not in SUCCESS_STATUSES:
        return f"status {status.status} {status.statusText.strip()}"
    reason = details.get("reason")
    if reason not in (None, "exited"):
        return str(details.get("message") or reason)
    if status.stopreq:
        return "stopped"
    if isinstance(exit_code, int) and exit_code != 0:
        return f"the algorithm exited with code {exit_code}"
    return None


def _deadline(job: ResolvedJob, entry: LockedJob) -> float | None:
    if job.timeoutSeconds is None:
        return None
    try:
        started = float(entry.dateCreated) if entry.dateCreated else time.time()
    except ValueError:
        started = time.time()
    return started + job.timeoutSeconds


def _unpacked(
    archive: Path, index: int, outputs: Path, workdir: Path
) -> tuple[list[LockedResult], list[str]]:
    """ocean-node returns outputs as one tar (§10.3): its files land in the outputs folder,
    each recorded with its sha256 as an `extracted` result of the tar's index."""
    try:
        files, refused = extract_tar(archive, outputs)
    except SpecRunnerError as exc:
        return [], [str(exc)]
    results = [
        LockedResult(
            index=index,
            type="extracted",
            filename=name,
            filesize=size,
            sha256=digest,
            path=_relative(path, workdir),
        )
        for name, path, size, digest in files
    ]
    return results, refused


def remove_results(previous: LockedJob | None, workdir: Path) -> None:
    """A replaced job's recorded result files go, so no stale output survives a rerun."""
    for result in previous.results if previous else []:
        path = workdir / result.path
        if path.is_file() and workdir.resolve() in path.resolve().parents:
            path.unlink()
            # Folders the old results made go too, when empty: a new result may be a file
            # where an old one was a folder.
            for parent in path.parents:
                if parent == workdir or workdir not in parent.parents:
                    break
                try:
                    parent.rmdir()
                except OSError:
                    break


def _relative(path: Path, workdir: Path) -> str:
    try:
        return path.resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
