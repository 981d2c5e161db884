"""One job's folder: Ocean's `/data` layout in, results and logs out (reference Appendix A, §7).

<job>/data/inputs/<did without did:op:>/<file index>   the datasets' files (hard links)
<job>/data/inputs/algoCustomData.json                  the algorithm's custom data
<job>/data/ddos/<did without did:op:>                  the DDOs
<job>/data/transformations/algorithm                   the algorithm ($ALGO)
<job>/data/outputs/, <job>/data/logs/                  written by the algorithm
<job>/adminlogs/configure.log                          our provisioning log
<job>/results/outputs/..., <job>/results/logs/...      what computeResult serves
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from specrunner.server.config import EnvironmentConfig

DID_PREFIX = "did:op:"
MAX_ALGORITHM_DOWNLOAD = 50 * 2**20


class ProvisioningError(Exception):
    """Inputs or algorithm could not be put in place; `status` is 31 (data) or 32."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def did_folder(did: str) -> str:
    return did[len(DID_PREFIX) :] if did.startswith(DID_PREFIX) else did


class JobFolder:
    def __init__(self, root: Path, files_dir: Path) -> None:
        self.root = root
        self.files_dir = files_dir
        self.data = root / "data"
        self.results = root / "results"

    def admin_log(self, text: str) -> None:
        path = self.root / "adminlogs" / "configure.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with path.open("a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {text}\n")

    def provision(self, workflow: dict[str, Any]) -> None:
        """Lay out `/data` for the job; raises ProvisioningError with status 31 or 32."""
        for name in ("inputs", "ddos", "transformations", "outputs", "logs"):
            (self.data / name).mkdir(parents=True, exist_ok=True)
        self.admin_log("configuring volumes")
        for item in workflow["inputs"]:
            self._provision_input(item)
        self._provision_algorithm(workflow["algorithm"])
        self.admin_log("provisioning success")

    def _provision_input(self, item: dict[str, Any]) -> None:
        folder = self.data / "inputs" / did_folder(item["did"])
        folder.mkdir(parents=True, exist_ok=True)
        for index, stored in enumerate(item["files"]):
            source = self.files_dir / stored["sha256"]
            if not source.is_file():
                raise ProvisioningError(31, f"file {index} of {item['did']} is missing")
            _link_or_copy(source, folder / str(index))
        (self.data / "ddos" / did_folder(item["did"])).write_text(json.dumps(item["ddo"]))
        self.admin_log(f"provisioned {len(item['files'])} file(s) of {item['did']}")

    def _provision_algorithm(self, algorithm: dict[str, Any]) -> None:
        target = self.data / "transformations" / "algorithm"
        if algorithm.get("rawcode") is not None:
            target.write_text(algorithm["rawcode"], encoding="utf-8")
        elif algorithm.get("url"):
            target.write_bytes(_download(algorithm["url"]))
        else:
            files = algorithm.get("files") or []
            source = self.files_dir / files[0]["sha256"] if files else None
            if source is None or not source.is_file():
                raise ProvisioningError(
                    32, f"the files of algorithm {algorithm['did']} are missing"
                )
            shutil.copyfile(source, target)
            if algorithm.get("ddo"):
                (self.data / "ddos" / did_folder(algorithm["did"])).write_text(
                    json.dumps(algorithm["ddo"])
                )
        target.chmod(0o755)
        if algorithm.get("customdata") is not None:
            (self.data / "inputs" / "algoCustomData.json").write_text(
                json.dumps(algorithm["customdata"]), encoding="utf-8"
            )
        self.admin_log("provisioned the algorithm")

    def run(
        self, workflow: dict[str, Any], env: EnvironmentConfig, stop: threading.Event
    ) -> dict[str, Any]:
        """Run the algorithm in the sandbox; returns the job's terminationDetails."""
        from specrunner.server.sandbox.request import SandboxLimits, SandboxRequest
        from specrunner.server.sandbox.run import run_sandboxed

        algorithm = workflow["algorithm"]
        entrypoint = algorithm["container"]["entrypoint"]
        argv = shlex.split(entrypoint.replace("$ALGO", "/data/transformations/algorithm"))
        request = SandboxRequest(
            data_dir=self.data,
            argv=argv,
            env={
                "DIDS": json.dumps([did_folder(i["did"]) for i in workflow["inputs"]]),
                "TRANSFORMATION_DID": did_folder(algorithm.get("did") or ""),
                "VOLUME": "/data",
                "LOGS": "/data/logs",
                "INPUTS": "/data/inputs",
                "OUTPUTS": "/data/outputs",
            },
            allow_network=bool(workflow.get("allowNetwork")),
            limits=SandboxLimits(
                # A job may ask for less time than the environment allows (ocean-node).
                wall_seconds=float(
                    min(env.maxJobDuration, workflow.get("maxJobDuration") or env.maxJobDuration)
                ),
                memory_bytes=int(env.ramGB * 2**30),
                max_processes=env.maxProcesses,
                output_bytes=int(env.diskGB * 2**30),
                cpus=env.cpuNumber,
            ),
            sandboxed=env.sandboxed,
        )
        outcome = run_sandboxed(request, stop)
        return {
            "exitCode": outcome.exit_code,
            "OOMKilled": outcome.oom_killed,
            "reason": outcome.reason,
            "message": outcome.message,
            "durationSeconds": round(outcome.duration_seconds, 3),
        }

    def publish(self, termination: dict[str, Any]) -> list[dict[str, Any]]:
        """Move outputs and logs into `results/` and list them in Ocean's order (§7)."""
        results: list[dict[str, Any]] = []
        outputs = self.data / "outputs"
        for source in _regular_files(outputs):
            name = source.relative_to(outputs).as_posix()
            if not _printable_name(name):
                # Not UTF-8: no client could be told its name in JSON. Say so, skip it.
                self.admin_log(f"skipped an output whose name is not UTF-8: {name!a}")
                continue
            results.append(self._keep(source, "outputs", name, "output"))
        log_file = self.data / "logs" / "algorithm.log"
        if log_file.is_file() and not log_file.is_symlink():
            results.append(self._keep(log_file, "logs", "algorithm.log", "algorithmLog"))
        self.admin_log(f"job ended: {termination.get('reason')}: {termination.get('message')}")
        configure = self.root / "adminlogs" / "configure.log"
        results.append(self._keep(configure, "logs", "configure.log", "configrationLog"))
        publish_log = self.root / "adminlogs" / "publish.log"
        publish_log.write_text(
            "".join(f"published {r['filename']} ({r['filesize']} bytes)\n" for r in results)
        )
        results.append(self._keep(publish_log, "logs", "publish.log", "publishLog"))
        for index, entry in enumerate(results):
            entry["index"] = index
        shutil.rmtree(self.data, ignore_errors=True)
        return results

    def result_path(self, entry: dict[str, Any]) -> Path:
        kind = "outputs" if entry["type"] == "output" else "logs"
        return self.results / kind / str(entry["filename"])

    def _keep(self, source: Path, kind: str, name: str, result_type: str) -> dict[str, Any]:
        target = self.results / kind / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        digest = hashlib.sha256()
        with target.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return {
            "filename": name,
            "filesize": target.stat().st_size,
            "type": result_type,
            "sha256": digest.hexdigest(),
        }


def _printable_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _regular_files(folder: Path) -> list[Path]:
    """Regular files under `folder`, sorted; symlinks are never followed out of it."""
    found: list[Path] = []
    if not folder.is_dir() or folder.is_symlink():
        return found
    for current, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(current) / name
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _download(url: str) -> bytes:
    import httpx

    if not url.startswith(("http://", "https://")):
        raise ProvisioningError(32, "algorithm url must be http(s)")
    try:
        with httpx.stream("GET", url, timeout=30, follow_redirects=True) as response:
            response.raise_for_status()
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_ALGORITHM_DOWNLOAD:
                    raise ProvisioningError(32, "algorithm download is too large")
            return bytes(data)
    except httpx.HTTPError as exc:
        raise ProvisioningError(32, f"algorithm download failed: {type(exc).__name__}") from exc
