"""The job lifecycle: queue, provision, run in the sandbox, publish results (reference §6, §7).

Status codes follow the operator pipeline exactly: 1 Warming up → 20 Configuring volumes →
30 Provisioning success → 40 Running algorithm → 60 Publishing results → 70 Job finished;
31/32 end a job whose data or algorithm could not be provisioned. Every job ends with
`dateFinished` set, including jobs interrupted by a provider restart.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from specrunner.errors import SandboxError
from specrunner.server.config import ProviderConfig
from specrunner.server.jobfiles import JobFolder, ProvisioningError
from specrunner.server.store import JobRecord, Store

log = logging.getLogger("specrunner.provider")

STATUS_TEXT = {
    1: "Warming up",
    10: "Job started",
    20: "Configuring volumes",
    30: "Provisioning success",
    31: "Data provisioning failed",
    32: "Algorithm provisioning failed",
    40: "Running algorithm ",  # the trailing space is in Ocean's code (reference §6.1)
    50: "Filtering results",
    60: "Publishing results",
    70: "Job finished",
}


class Engine:
    """Runs jobs on worker threads, at most `maxJobs` at a time per environment."""

    def __init__(self, store: Store, config: ProviderConfig, jobs_dir: Path, files_dir: Path):
        self.store = store
        self.config = config
        self.jobs_dir = jobs_dir
        self.files_dir = files_dir
        self._pools = {
            env.id: ThreadPoolExecutor(max_workers=env.maxJobs, thread_name_prefix=f"job-{env.id}")
            for env in config.environments
        }
        self._stops: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        jobs_dir.mkdir(parents=True, exist_ok=True)

    def recover(self) -> None:
        """After a restart: queued jobs run again; interrupted ones end with their logs."""
        for job in self.store.unfinished_jobs():
            if job.status == 1 and self.config.environment(job.environment) is not None:
                self.submit(job)
            else:
                self._finish(  # never raises: see _finish
                    job,
                    {
                        "exitCode": None,
                        "OOMKilled": False,
                        "reason": "provider-restart",
                        "message": "the provider stopped while this job was running",
                    },
                )

    def start(
        self, owner: str, agreement_id: str, environment: str, workflow: dict[str, Any]
    ) -> JobRecord:
        """Record a new job (1 Warming up) and queue it; both dialects start jobs here."""
        job = JobRecord(
            job_id=uuid.uuid4().hex,
            owner=owner,
            agreement_id=agreement_id,
            environment=environment,
            status=1,
            status_text=STATUS_TEXT[1],
            date_created=time.time(),
            workflow=workflow,
            input_dids=[item["did"] for item in workflow["inputs"]],
            algo_did=workflow["algorithm"]["did"],
        )
        self.store.insert_job(job)
        self.submit(job)
        return job

    def submit(self, job: JobRecord) -> None:
        with self._lock:
            self._stops[job.job_id] = threading.Event()
        self._pools[job.environment].submit(self._run_guarded, job.job_id)

    def request_stop(self, job: JobRecord) -> JobRecord:
        """Ask a job to stop: a running job is killed, a queued one ends right away."""
        job = self.store.update_job(job, stopreq=1)
        with self._lock:
            event = self._stops.get(job.job_id)
        if event is not None:
            event.set()
        return job

    def shutdown(self) -> None:
        with self._lock:
            for event in self._stops.values():
                event.set()
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=False)

    def _run_guarded(self, job_id: str) -> None:
        try:
            self._run(job_id)
        except SandboxError as exc:
            log.error("job %s: %s", job_id, exc)
            self._end_on_error(job_id, "sandbox-error", str(exc))
        except Exception:  # a bug must end the job, never leave it running forever
            log.exception("job %s failed inside the provider", job_id)
            self._end_on_error(job_id, "error", "internal provider error while running the job")
        finally:
            with self._lock:
                self._stops.pop(job_id, None)

    def _end_on_error(self, job_id: str, reason: str, message: str) -> None:
        job = self.store.get_job(job_id)
        if job is not None and job.date_finished is None:
            termination: dict[str, object] = {
                "exitCode": None,
                "OOMKilled": False,
                "reason": reason,
                "message": message,
            }
            self._finish(job, termination)

    def _run(self, job_id: str) -> None:
        job = self.store.get_job(job_id)
        if job is None or job.date_finished is not None:
            return
        stop = self._stops.get(job_id) or threading.Event()
        if job.stopreq or stop.is_set():
            self._finish(job, _stopped_before_start())
            return
        env = self.config.environment(job.environment)
        assert env is not None
        folder = JobFolder(self.jobs_dir / job.job_id, self.files_dir)
        job = self._set_status(job, 20)
        try:
            folder.provision(job.workflow)
        except ProvisioningError as exc:
            folder.admin_log(f"provisioning failed: {exc}")
            self._finish(
                job,
                {
                    "exitCode": None,
                    "OOMKilled": False,
                    "reason": "provisioning",
                    "message": str(exc),
                },
                status=exc.status,
                folder=folder,
            )
            return
        job = self._set_status(job, 30)
        job = self._set_status(job, 40)
        outcome = folder.run(job.workflow, env, stop)
        job = self._set_status(job, 60)
        self._finish(job, outcome, folder=folder)

    def _set_status(self, job: JobRecord, status: int) -> JobRecord:
        return self.store.update_job(job, status=status, status_text=STATUS_TEXT[status])

    def _finish(
        self,
        job: JobRecord,
        termination: dict[str, object],
        *,
        status: int = 70,
        folder: JobFolder | None = None,
    ) -> None:
        folder = folder or JobFolder(self.jobs_dir / job.job_id, self.files_dir)
        try:
            results = folder.publish(termination)
        except Exception:  # a job must end even when its results cannot be published
            log.exception("job %s: publishing its results failed", job.job_id)
            results = []
            termination = {**termination, "publishError": "its results could not be published"}
        self.store.update_job(
            job,
            status=status,
            status_text=STATUS_TEXT[status],
            date_finished=time.time(),
            results=results,
            termination=termination,
        )


def _stopped_before_start() -> dict[str, object]:
    return {
        "exitCode": None,
        "OOMKilled": False,
        "reason": "stopped",
        "message": "stopped before the algorithm started",
    }
