"""What the engine hands the sandbox and what it gets back: plain data, no behaviour.

Kept apart from `run` so that `watch` (which `run` uses) can name a request without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

UID_BASE = 1_000_000_000
SLOTS = 64  # concurrent jobs per provider process; host uid = UID_BASE + pid * SLOTS + slot
LOG_NAME = "algorithm.log"


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float  # maxJobDuration
    memory_bytes: int | None  # ramGB
    max_processes: int | None  # the algorithm's processes, bwrap's own two not counted
    output_bytes: int | None  # diskGB: outputs/ and logs/ together
    cpus: int | None = None


@dataclass(frozen=True)
class SandboxRequest:
    data_dir: Path
    argv: list[str]
    env: dict[str, str]
    allow_network: bool
    limits: SandboxLimits
    sandboxed: bool = True


@dataclass(frozen=True)
class SandboxOutcome:
    exit_code: int | None
    reason: str
    message: str
    duration_seconds: float
    oom_killed: bool = False
