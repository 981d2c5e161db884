"""What the benchmarks share: the machine line, a provider process, wallets and assets.

Every benchmark runs the specrunner of this checkout (PYTHONPATH points at it), never
another installed copy.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from specrunner.server.ready import await_ready

ROOT = Path(__file__).resolve().parents[1]
BENCH_KEY = "0x" + "be" * 32  # a throwaway wallet for benchmark jobs, never funded


def machine() -> str:
    """`nproc`, `uname -m`, the CPU model and Python version, as RESULTS.md records them."""
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs (`nproc`), {platform.machine()} (`uname -m`), {model}; "
        f"Python {platform.python_version()}"
    )


def env() -> dict[str, str]:
    """The environment for child processes: this checkout first on the import path."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else "")}


def specrunner_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "specrunner", *args]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


ENVIRONMENT_CONFIG = """\
environments:
  - id: bench
    priceMin: 0
    cpuNumber: 1
    ramGB: 1
    diskGB: 1
    maxJobs: {max_jobs}
    maxJobDuration: 120
"""


@dataclass
class Provider:
    """`specrunner provider serve` on a loopback port, in its own process."""

    url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Provider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_provider(
    data_dir: Path, max_jobs: int = 2, cpus: str | None = None, timeout: float = 30.0
) -> Provider:
    """Start a provider with one free environment running `max_jobs` jobs at a time;
    `cpus` pins it with `taskset -c` (e.g. "0" for one core)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "bench-config.yaml"
    config.write_text(ENVIRONMENT_CONFIG.format(max_jobs=max_jobs))
    command = specrunner_argv(
        "provider", "serve", "--port", "0", "--data-dir", str(data_dir), "--config", str(config)
    )
    if cpus is not None and shutil.which("taskset"):
        command = ["taskset", "-c", cpus, *command]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env(), "PYTHONUNBUFFERED": "1"},
    )
    provider = Provider(await_ready(process, timeout), process)
    httpx.get(provider.url + "/", timeout=5).raise_for_status()
    return provider


def publish_file(url: str, path: Path, asset_type: str, key: str = BENCH_KEY) -> dict[str, Any]:
    """Publish one file (datasets allow raw algorithms); the DDO as served."""
    from specrunner.ocean.publishing import build_publish_request, publish
    from specrunner.ocean.signing import Signer

    options: dict[str, Any] = {}
    if asset_type == "dataset":
        options["compute"] = {"allowRawAlgorithm": True, "allowNetworkAccess": False}
    else:
        options["algorithm"] = {
            "container": {"entrypoint": "python3 $ALGO", "image": "python", "tag": "3.11"}
        }
    body = build_publish_request([path], asset_type, **options)
    return publish(url, Signer.from_key(key), body).as_wire()


# The trivial job: read the input, write one small output, print one line.
TRIVIAL_ALGORITHM = """\
import json, os
dids = json.loads(os.environ["DIDS"])
text = open(f"/data/inputs/{dids[0]}/0").read()
with open("/data/outputs/out.json", "w") as out:
    json.dump({"chars": len(text)}, out)
print("ok", len(text))
"""
