"""Raw wire helpers for provider tests: publish, order, sign and start as a client would.

Deliberately independent of specrunner.ocean's client, so these tests pin the provider's
wire behaviour rather than our client's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from specrunner.ocean.publishing import build_publish_request, publish
from specrunner.ocean.signing import Signer

SHOW_INPUTS = """\
import json, os
report = {"dids": json.loads(os.environ["DIDS"]), "inputs": {}, "custom": None}
for did in report["dids"]:
    folder = f"/data/inputs/{did}"
    report["inputs"][did] = [open(f"{folder}/{name}").read() for name in sorted(os.listdir(folder))]
if os.path.exists("/data/inputs/algoCustomData.json"):
    report["custom"] = json.load(open("/data/inputs/algoCustomData.json"))
report["ddos"] = sorted(os.listdir("/data/ddos"))
with open("/data/outputs/report.json", "w") as out:
    json.dump(report, out, sort_keys=True)
print("algorithm ran on", len(report["dids"]), "dataset(s)")
"""

SLEEPER = "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n"


class WireClient:
    """A consumer talking raw HTTP to one provider."""

    def __init__(self, url: str, wallet: Signer) -> None:
        self.url = url
        self.wallet = wallet
        self.http = httpx.Client(base_url=url, timeout=30)

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def nonce(self) -> int:
        response = self.http.get("/api/services/nonce", params={"userAddress": self.wallet.address})
        return int(float(response.json()["nonce"])) + 1

    def signed(self, message: str, nonce: int | None = None) -> dict[str, Any]:
        nonce = self.nonce() if nonce is None else nonce
        return {"nonce": nonce, "signature": self.wallet.sign(f"{message}{nonce}")}

    def environment(self) -> str:
        envs = self.http.get("/api/services/computeEnvironments").json()
        return str(next(iter(envs.values()))[0]["id"])

    def order(
        self,
        did: str,
        service_id: str,
        env: str,
        algorithm: tuple[str, str] | None = None,
        consumer: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "datasets": [{"documentId": did, "serviceId": service_id}],
            "compute": {"env": env, "validUntil": int(time.time()) + 3600},
            "consumerAddress": consumer or self.wallet.address,
        }
        if algorithm:
            body["algorithm"] = {"documentId": algorithm[0], "serviceId": algorithm[1]}
        response = self.http.post("/api/services/initializeCompute", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def start_body(
        self, dataset: dict[str, Any], algorithm: dict[str, Any], env: str, **extra: Any
    ) -> dict[str, Any]:
        owner = self.wallet.address
        return {
            "dataset": dataset,
            "algorithm": algorithm,
            "environment": env,
            "consumerAddress": owner,
            **self.signed(f"{owner}{dataset['documentId']}"),
            **extra,
        }

    def start(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post("/api/services/compute", json=body)

    def status(self, job_id: str | None = None) -> list[dict[str, Any]]:
        params = {"consumerAddress": self.wallet.address}
        if job_id:
            params["jobId"] = job_id
        response = self.http.get("/api/services/compute", params=params)
        assert response.status_code == 200, response.text
        return list(response.json())

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.status(job_id)
            if jobs and jobs[0]["dateFinished"]:
                return jobs[0]
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish in {timeout}s: {self.status(job_id)}")

    def wait_status(self, job_id: str, status: int, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.status(job_id)[0]
            if job["status"] == status:
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} never reached {status}: {self.status(job_id)}")

    def result(self, job_id: str, index: int) -> httpx.Response:
        owner = self.wallet.address
        params = {
            "consumerAddress": owner,
            "jobId": job_id,
            "index": index,
            **self.signed(f"{owner}{job_id}{index}"),
        }
        return self.http.get("/api/services/computeResult", params=params)


def publish_file(
    url: str, wallet: Signer, path: Path, asset_type: str = "dataset", **options: Any
) -> dict[str, Any]:
    """Publish one file through the provider's publish endpoint; returns the served DDO."""
    compute = None
    if asset_type == "dataset":
        compute = {
            "allowRawAlgorithm": options.get("allow_raw", True),
            "publisherTrustedAlgorithms": options.get("trusted", []),
            "allowNetworkAccess": options.get("network", False),
        }
    algorithm = (
        {"container": {"entrypoint": "python3 $ALGO"}} if asset_type == "algorithm" else None
    )
    body = build_publish_request([path], asset_type, compute=compute, algorithm=algorithm)
    return publish(url, wallet, body).as_wire()


def raw_algorithm(code: str) -> dict[str, Any]:
    return {
        "meta": {
            "rawcode": code,
            "language": "python",
            "version": "0.1",
            "container": {
                "entrypoint": "python3 $ALGO",
                "image": "python",
                "tag": "3.11",
                "checksum": "sha256:" + "0" * 64,
            },
        }
    }
