"""How the ocean-node dialect shows environments, jobs and results (reference §10.2).

The engine runs jobs with Provider v2's status codes; this module translates them, so one
engine serves both dialects: a job killed by a limit, an error or a restart ends at 41
"Failed to run algorithm" (42 for the output quota) instead of Provider v2's 70.
"""

from __future__ import annotations

import os
import platform
import tarfile
import threading
from pathlib import Path
from typing import Any

from specrunner.server.config import EnvironmentConfig
from specrunner.server.context import ProviderContext
from specrunner.server.store import JobRecord

STATUS_TEXT = {
    0: "Job started",
    1: "Job queued",
    20: "Configuring volumes",
    30: "Provisioning data",
    31: "Data provisioning failed",
    32: "Algorithm provisioning failed",
    40: "Running algorithm ",
    41: "Failed to run algorithm",
    42: "Error: disk quota exceeded",
    60: "Publishing results",
    70: "Job finished",
}
KILLED = {"timeout", "memory", "processes", "provider-restart", "error", "sandbox-error"}
OUTPUTS_TAR = "outputs.tar"


def node_status(job: JobRecord) -> int:
    """The ocean-node status code of a job the engine tracks with Provider v2's codes."""
    reason = (job.termination or {}).get("reason")
    if job.status == 70 and reason == "output_size":
        return 42
    if job.status == 70 and reason in KILLED:
        return 41
    return job.status


def environment(ctx: ProviderContext, env: EnvironmentConfig) -> dict[str, Any]:
    """An ocean-node environment: resources, per-chain fees, and a `free` block if free."""
    running = ctx.store.count_running(env.id)
    resources = [
        {
            "id": "cpu",
            "type": "cpu",
            "total": env.cpuNumber,
            "min": 1,
            "max": env.cpuNumber,
            "inUse": min(running, env.cpuNumber),
        },
        {"id": "ram", "type": "ram", "total": env.ramGB, "min": 0, "max": env.ramGB, "inUse": 0},
        {
            "id": "disk",
            "type": "disk",
            "total": env.diskGB,
            "min": 0,
            "max": env.diskGB,
            "inUse": 0,
        },
    ]
    body: dict[str, Any] = {
        "id": env.id,
        "consumerAddress": ctx.env_address(env),
        "description": env.desc,
        "storageExpiry": env.storageExpiry,
        "minJobDuration": 1,
        "maxJobDuration": env.maxJobDuration,
        "maxJobs": env.maxJobs,
        "fees": {}
        if env.is_free
        else {
            str(ctx.config.chainId): [
                {"feeToken": env.feeToken, "prices": [{"id": "cpu", "price": env.priceMin}]}
            ]
        },
        "resources": resources,
        "access": {"addresses": [], "accessLists": []},
        "platform": {"architecture": platform.machine(), "os": "linux"},
        "runningJobs": running,
        "runningfreeJobs": running if env.is_free else 0,
        "queuedJobs": 0,
        "queuedFreeJobs": 0,
        "queMaxWaitTime": 0,
        "enableNetwork": env.allowNetwork,
        "sandboxed": env.sandboxed,
    }
    if env.is_free:
        body["free"] = {
            "maxJobDuration": env.maxJobDuration,
            "minJobDuration": 1,
            "maxJobs": env.maxJobs,
            "resources": resources,
            "access": body["access"],
            "allowImageBuild": False,
        }
    return body


def job(job: JobRecord, jobs_dir: Path) -> dict[str, Any]:
    status = node_status(job)
    workflow = job.workflow
    return {
        "owner": job.owner,
        "jobId": job.job_id,
        "agreementId": job.agreement_id or None,
        "environment": job.environment,
        "status": status,
        "statusText": STATUS_TEXT.get(status, job.status_text),
        "dateCreated": f"{job.date_created:.6f}",
        "dateFinished": None if job.date_finished is None else f"{job.date_finished:.6f}",
        "results": results(job, jobs_dir),
        "stopRequested": bool(job.stopreq),
        "algoDID": job.algo_did,
        "inputDID": job.input_dids,
        "maxJobDuration": workflow.get("maxJobDuration"),
        "queueMaxWaitTime": workflow.get("queueMaxWaitTime", 0),
        "metadata": workflow.get("metadata") or {},
        "resources": workflow.get("resources") or [],
        "isFree": True,
        "terminationDetails": _termination(job),
    }


def _termination(job: JobRecord) -> dict[str, Any]:
    details = dict(job.termination or {})
    details.setdefault("OOMKilled", False)
    details.setdefault("exitCode", None)
    return details


def results(job: JobRecord, jobs_dir: Path) -> list[dict[str, Any]]:
    """ocean-node's result list: configuration.log, algorithm.log, then outputs.tar (§10.3)."""
    if job.date_finished is None:
        return []
    entries: list[dict[str, Any]] = []
    for entry in job.results:
        if entry["type"] == "configrationLog":
            entries.append(
                {
                    "filename": "configuration.log",
                    "filesize": entry["filesize"],
                    "type": "configurationLog",
                    "source": entry,
                }
            )
        elif entry["type"] == "algorithmLog":
            entries.append(
                {
                    "filename": "algorithm.log",
                    "filesize": entry["filesize"],
                    "type": "algorithmLog",
                    "source": entry,
                }
            )
    entries.sort(key=lambda e: 0 if e["type"] == "configurationLog" else 1)
    tar = outputs_tar(job, jobs_dir)
    entries.append({"filename": OUTPUTS_TAR, "filesize": tar.stat().st_size, "type": "output"})
    return [
        {**{k: v for k, v in e.items() if k != "source"}, "index": i} for i, e in enumerate(entries)
    ]


def result_file(job: JobRecord, jobs_dir: Path, index: int) -> Path | None:
    """The file behind result `index` of `results(job)`, or None."""
    listed = results(job, jobs_dir)
    if not 0 <= index < len(listed):
        return None
    entry = listed[index]
    if entry["type"] == "output":
        return outputs_tar(job, jobs_dir)
    folder = jobs_dir / job.job_id / "results" / "logs"
    name = "configure.log" if entry["type"] == "configurationLog" else "algorithm.log"
    return folder / name


def outputs_tar(job: JobRecord, jobs_dir: Path) -> Path:
    """A tar of the job's outputs, built once: sorted names, no owners or times, so the
    same outputs always give the same bytes (and sha256)."""
    folder = jobs_dir / job.job_id / "results"
    target = folder / OUTPUTS_TAR
    if target.is_file():
        return target
    outputs = folder / "outputs"
    temp = target.with_name(f".{OUTPUTS_TAR}.{os.getpid()}.{threading.get_ident()}")
    with tarfile.open(temp, mode="w") as tar:
        for path in sorted(outputs.rglob("*")) if outputs.is_dir() else []:
            if path.is_file() and not path.is_symlink():
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(outputs)))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                info.mode = 0o644
                with path.open("rb") as data:
                    tar.addfile(info, data)
    os.replace(temp, target)
    return target


def live_log(job: JobRecord, jobs_dir: Path) -> Path:
    return jobs_dir / job.job_id / "data" / "logs" / "algorithm.log"


__all__ = ["environment", "job", "live_log", "node_status", "result_file", "results"]
