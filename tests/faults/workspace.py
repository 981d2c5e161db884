"""A repository of specs served by a real provider, and the CLI run against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from specrunner.lockfile import Lock, load_lock
from specrunner.ocean.signing import Signer

T = TypeVar("T")

ALGORITHM = """\
import json, os, time
options = json.load(open("/data/inputs/algoCustomData.json"))
time.sleep(options.get("sleep", 0))
with open("/data/outputs/out.txt", "w") as out:
    out.write("x" * options.get("size", 16))
print("done", options.get("tag"))
"""


class Workspace:
    """`root/specs/*.yaml`, all pointing at `provider_url`, signed by one fresh wallet."""

    def __init__(self, root: Path, provider_url: str) -> None:
        self.root = root
        self.provider_url = provider_url
        key = "0x" + os.urandom(32).hex()
        self.env = {"TEST_WALLET_KEY": key}
        self.owner = Signer.from_key(key)
        (root / "specs" / "data").mkdir(parents=True, exist_ok=True)
        (root / "specs" / "algorithm.py").write_text(ALGORITHM)
        (root / "specs" / "data" / "shared.txt").write_text("shared input\n")

    def add(self, name: str, outputs_dir: str | None = None, **custom: Any) -> None:
        text = (
            f"apiVersion: specrunner/v1\nkind: ComputeJob\nmetadata: {{name: {name}}}\n"
            f"provider: {{url: {self.provider_url}}}\n"
            'wallet: {privateKey: "${env:TEST_WALLET_KEY}"}\n'
            "datasets:\n  - path: data/shared.txt\n"
            "algorithm:\n  file: algorithm.py\n"
            "  container: {entrypoint: python3 $ALGO, image: python, tag: '3.11'}\n"
            f"  customData: {json.dumps({'tag': name, **custom})}\n"
        )
        if outputs_dir is not None:
            text += f"outputs: {{dir: {outputs_dir}}}\n"
        (self.root / "specs" / f"{name}.yaml").write_text(text)

    def retarget(self, provider_url: str) -> None:
        """Point every spec at another URL (the same provider behind a proxy, say)."""
        for path in (self.root / "specs").glob("*.yaml"):
            path.write_text(path.read_text().replace(self.provider_url, provider_url))
        self.provider_url = provider_url

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "specrunner", *args]

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **self.env},
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def lockfile(self) -> Path:
        return self.root / "specrunner.lock.json"

    def lock(self) -> Lock:
        """The lock as specrunner reads it: raises if it is not valid."""
        return load_lock(self.lockfile)

    def owner_jobs(self, url: str | None = None) -> list[dict[str, Any]]:
        response = httpx.get(
            (url or self.provider_url) + "/api/services/compute",
            params={"consumerAddress": self.owner.address},
            timeout=30,
        )
        response.raise_for_status()
        return list(response.json())


def until(check: Callable[[], T | None], timeout: float = 60, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout}s")
