"""Drive unmodified ocean.py 3.1.2 through the compute flow of reference §4.13, with no chain.

Run it with the Python 3.10 venv that scripts/setup-compat makes (ocean-lib 3.1.2 breaks on 3.11):

    COMPAT_PRIVATE_KEY=0x... .cache/compat/py310/bin/python tests/compat/oceanpy_flow.py \\
        --provider URL --dataset DID --algorithm DID --sleeper DID \\
        [--strict-dataset DID] [--raw-code FILE] [--custom-data JSON] [--timeout SECONDS]

The key comes from the environment only, never from argv. One JSON object goes to stdout: what
every step observed (environments, fileinfo, initializeCompute, job ids, statuses, result bytes,
logs, stop), and for a step that failed, its error. Exit status 0 when every step ran.

What ocean.py would get from a chain, and how it is satisfied here without modifying ocean.py:
- `OceanCompute(config_dict, DataServiceProvider)` reads only METADATA_CACHE_URI from the config:
  Aquarius is the provider itself (`GET /`, `GET /api/aquarius/assets/ddo/{did}`).
- `OceanAssets` (for `pay_for_compute_service`, ocean.py's own initializeCompute-and-order step)
  wants CHAIN_ID, NETWORK_NAME, ADDRESS_FILE and `web3_instance` to build its NFT-factory
  contract object. It gets a Web3 whose provider raises on any request (so a chain call would
  show up as an error naming the RPC method) and an address file with a placeholder address.
- `pay_for_compute_service` only goes on chain when initializeCompute asks for an order or fee:
  a `validOrder` without `providerFee` becomes the input's `transfer_tx_id` as is.
- Wallet: an eth-account LocalAccount; ocean.py signs with its `_private_key`.
- ocean.py prints "signing message with nonce ..." on stdout, so stdout is pointed at stderr while
  the flow runs and only the JSON report is written to the real stdout.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

from eth_account import Account
from ocean_lib.agreements.service_types import ServiceTypes
from ocean_lib.aquarius import Aquarius
from ocean_lib.assets.ddo import DDO
from ocean_lib.data_provider.data_service_provider import DataServiceProvider
from ocean_lib.models.compute_input import ComputeInput
from ocean_lib.ocean.ocean_assets import OceanAssets
from ocean_lib.ocean.ocean_compute import OceanCompute
from ocean_lib.structures.algorithm_metadata import AlgorithmMetadata
from web3 import Web3
from web3.providers.base import BaseProvider

KEY_VARIABLE = "COMPAT_PRIVATE_KEY"
PLACEHOLDER_FACTORY = "0x" + "00" * 19 + "01"
RUNNING = 40


class NoChain(BaseProvider):
    """A web3 provider for a machine without a chain: any RPC call is an error naming it."""

    def make_request(self, method: Any, params: Any) -> Any:
        raise RuntimeError(f"ocean.py tried to use the chain: RPC {method}")

    def is_connected(self, show_traceback: bool = False) -> bool:
        return False


class Flow:
    """Runs named steps, recording each one's result or error in the report."""

    def __init__(self, report: dict[str, Any]) -> None:
        self.report = report
        self.report.setdefault("errors", {})

    def step(self, name: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except Exception as exc:
            self.report["errors"][name] = {
                "type": type(exc).__name__,
                "message": str(exc),
                "traceback": traceback.format_exc(limit=8),
            }
            raise StepFailed(name) from exc

    def fail(self, name: str, message: str) -> None:
        self.report["errors"][name] = {"type": "CompatCheck", "message": message}
        raise StepFailed(name)


class StepFailed(Exception):
    """A step failed; its error is in the report."""


def blob(data: bytes) -> dict[str, Any]:
    return {
        "text": data.decode("utf-8", errors="replace"),
        "base64": base64.b64encode(data).decode("ascii"),
        "size": len(data),
    }


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def offline_assets_config(url: str, chain_id: int, workdir: Path) -> dict[str, Any]:
    address_file = workdir / "address.json"
    address_file.write_text(
        json.dumps({"development": {"chainId": chain_id, "ERC721Factory": PLACEHOLDER_FACTORY}})
    )
    return {
        "CHAIN_ID": chain_id,
        "NETWORK_NAME": "development",
        "ADDRESS_FILE": str(address_file),
        "web3_instance": Web3(NoChain()),
        "METADATA_CACHE_URI": url,
        "PROVIDER_URL": url,
    }


def compute_service(ddo: DDO) -> Any:
    for service in ddo.services:
        if service.type == ServiceTypes.CLOUD_COMPUTE:
            return service
    raise LookupError(f"{ddo.did} has no compute service")


class Client:
    def __init__(self, args: argparse.Namespace, account: Any, flow: Flow, workdir: Path):
        self.args = args
        self.account = account
        self.flow = flow
        self.url = args.provider.rstrip("/")
        self.compute = OceanCompute({"METADATA_CACHE_URI": self.url}, DataServiceProvider)
        self.assets: OceanAssets | None = None
        self.workdir = workdir
        self.ddos: dict[str, DDO] = {}
        self.env: dict[str, Any] = {}

    def resolve(self, did: str) -> DDO:
        ddo = Aquarius.get_instance(self.url).get_ddo(did)
        if ddo is None or not ddo.did:
            raise LookupError(f"Aquarius did not resolve {did}")
        self.ddos[did] = ddo
        return ddo

    def pay(self, dataset: DDO, algorithm: ComputeInput | AlgorithmMetadata) -> tuple[Any, Any]:
        """ocean.py's own initializeCompute + order step, as its README calls it."""
        assert self.assets is not None
        return self.assets.pay_for_compute_service(
            datasets=[ComputeInput(dataset, compute_service(dataset))],
            algorithm_data=algorithm,
            compute_environment=self.env["id"],
            valid_until=int(time.time()) + 3600,
            consume_market_order_fee_address=self.account.address,
            tx_dict={"from": self.account},
            consumer_address=self.env["consumerAddress"],
        )

    def wait(self, ddo: DDO, job_id: str, seen: list[Any], until_status: int | None = None) -> Any:
        """Poll status as ocean.py's README does: until dateFinished is set, or a status reached."""
        service = compute_service(ddo)
        deadline = time.monotonic() + self.args.timeout
        while True:
            status = self.compute.status(ddo, service, job_id, self.account)
            if not seen or seen[-1] != [status.get("status"), status.get("statusText")]:
                seen.append([status.get("status"), status.get("statusText")])
            finished = status.get("dateFinished")
            if finished and Decimal(str(finished)) > 0:
                return status
            if until_status is not None and (status.get("status") or 0) >= until_status:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} unfinished after {self.args.timeout}s: {status}")
            time.sleep(0.3)

    def run_job(self, name: str, algorithm: ComputeInput | AlgorithmMetadata) -> None:
        """initializeCompute → start → status until finished → result → logs, for one job."""
        job: dict[str, Any] = {}
        self.flow.report[name] = job
        ddo = self.ddos[self.args.dataset]
        service = compute_service(ddo)
        step = self.flow.step
        datasets, paid_algorithm = step(f"{name}.initialize", lambda: self.pay(ddo, algorithm))
        job["transfer_tx_id"] = datasets[0].transfer_tx_id
        if paid_algorithm is not None:
            job["algorithm_transfer_tx_id"] = paid_algorithm.transfer_tx_id
        start_kwargs: dict[str, Any] = {
            "consumer_wallet": self.account,
            "dataset": datasets[0],
            "compute_environment": self.env["id"],
        }
        if isinstance(algorithm, AlgorithmMetadata):
            start_kwargs["algorithm_meta"] = algorithm
        else:
            start_kwargs["algorithm"] = paid_algorithm
            start_kwargs["algorithm_algocustomdata"] = self.args.custom_data
        job_id = step(f"{name}.start", lambda: self.compute.start(**start_kwargs))
        job["job_id"] = job_id
        job["statuses"] = []
        final = step(f"{name}.status", lambda: self.wait(ddo, job_id, job["statuses"]))
        job["final_status"] = jsonable(final)
        results = final.get("results") or []
        outputs = [i for i, entry in enumerate(results) if entry.get("type") == "output"]
        if not outputs:
            self.flow.fail(f"{name}.result", f"no result of type output in {results!r}")
        job["output_index"] = outputs[0]
        data = step(
            f"{name}.result",
            lambda: self.compute.result(ddo, service, job_id, outputs[0], self.account),
        )
        job["result"] = blob(data)
        for log_type in ("output", "algorithmLog"):
            logs = step(
                f"{name}.logs.{log_type}",
                lambda log_type=log_type: self.compute.compute_job_result_logs(
                    ddo, service, job_id, self.account, log_type=log_type
                ),
            )
            job[f"logs_{log_type}"] = [blob(item) for item in logs]

    def run_stop(self) -> None:
        """Start the sleeper, stop it while it runs, and watch it end."""
        job: dict[str, Any] = {}
        self.flow.report["stop"] = job
        ddo = self.ddos[self.args.dataset]
        service = compute_service(ddo)
        sleeper = self.ddos[self.args.sleeper]
        step = self.flow.step
        datasets, paid = step(
            "stop.initialize",
            lambda: self.pay(ddo, ComputeInput(sleeper, sleeper.services[0])),
        )
        job_id = step(
            "stop.start",
            lambda: self.compute.start(
                consumer_wallet=self.account,
                dataset=datasets[0],
                compute_environment=self.env["id"],
                algorithm=paid,
            ),
        )
        job["job_id"] = job_id
        job["statuses"] = []
        running = step("stop.running", lambda: self.wait(ddo, job_id, job["statuses"], RUNNING))
        job["status_before_stop"] = jsonable(running)
        stopped_at = time.monotonic()
        answer = step("stop.stop", lambda: self.compute.stop(ddo, service, job_id, self.account))
        job["stop_response"] = jsonable(answer)
        final = step("stop.status", lambda: self.wait(ddo, job_id, job["statuses"]))
        job["seconds_from_stop_to_finished"] = round(time.monotonic() - stopped_at, 2)
        job["final_status"] = jsonable(final)
        logs = step(
            "stop.logs",
            lambda: self.compute.compute_job_result_logs(
                ddo, service, job_id, self.account, log_type="algorithmLog"
            ),
        )
        job["logs_algorithmLog"] = [blob(item) for item in logs]

    def run_refusals(self) -> None:
        """What ocean.py raises for inputs the strict dataset refuses (raw, untrusted algorithm)."""
        refusals: dict[str, Any] = {}
        self.flow.report["refusals"] = refusals
        strict = self.ddos[self.args.strict_dataset]
        sleeper = self.ddos[self.args.sleeper]
        cases: dict[str, ComputeInput | AlgorithmMetadata] = {
            "untrusted": ComputeInput(sleeper, sleeper.services[0])
        }
        if self.args.raw_code:
            cases["raw"] = raw_algorithm(self.args.raw_code)
        for label, algorithm in cases.items():
            try:
                datasets, paid = self.pay(strict, algorithm)
                kwargs: dict[str, Any] = (
                    {"algorithm_meta": algorithm}
                    if isinstance(algorithm, AlgorithmMetadata)
                    else {"algorithm": paid}
                )
                job_id = self.compute.start(self.account, datasets[0], self.env["id"], **kwargs)
                refusals[label] = {"refused": False, "job_id": job_id}
            except Exception as exc:
                refusals[label] = {"refused": True, "type": type(exc).__name__, "message": str(exc)}

    def run(self) -> None:
        report = self.flow.report
        step = self.flow.step
        args = self.args
        for did in (args.dataset, args.algorithm, args.sleeper, args.strict_dataset):
            if not did:
                continue
            step(f"resolve.{did}", lambda did=did: self.resolve(did))
        dataset = self.ddos[args.dataset]
        service = compute_service(dataset)
        chain_id = int(dataset.chain_id)
        report["chain_id"] = chain_id
        report["service"] = {"id": service.id, "endpoint": service.service_endpoint}
        config = offline_assets_config(self.url, chain_id, self.workdir)
        self.assets = step("assets", lambda: OceanAssets(config, DataServiceProvider))

        envs = step(
            "environments",
            lambda: self.compute.get_c2d_environments(service.service_endpoint, chain_id),
        )
        report["environments"] = jsonable(envs)
        self.env = step(
            "free_environment",
            lambda: self.compute.get_free_c2d_environment(service.service_endpoint, chain_id),
        )
        report["free_environment"] = jsonable(self.env)
        report["fileinfo_valid"] = step(
            "fileinfo",
            lambda: DataServiceProvider.check_asset_file_info(
                dataset.did, service.id, service.service_endpoint
            ),
        )
        initialize = step(
            "initialize_raw",
            lambda: DataServiceProvider.initialize_compute(
                [ComputeInput(dataset, service).as_dictionary()],
                ComputeInput(
                    self.ddos[args.algorithm], self.ddos[args.algorithm].services[0]
                ).as_dictionary(),
                service.service_endpoint,
                self.env["consumerAddress"],
                self.env["id"],
                int(time.time()) + 3600,
            ).json(),
        )
        report["initialize_response"] = initialize

        algorithm_ddo = self.ddos[args.algorithm]
        sub_flows: list[tuple[str, Callable[[], None]]] = [
            (
                "published",
                lambda: self.run_job(
                    "published", ComputeInput(algorithm_ddo, algorithm_ddo.services[0])
                ),
            ),
        ]
        allow_raw = bool((service.compute_values or {}).get("allowRawAlgorithm"))
        report["dataset_allows_raw"] = allow_raw
        if args.raw_code and allow_raw:
            sub_flows.append(("raw", lambda: self.run_job("raw", raw_algorithm(args.raw_code))))
        sub_flows.append(("stop", self.run_stop))
        if args.strict_dataset:
            sub_flows.append(("refusals", self.run_refusals))
        for _name, action in sub_flows:
            with contextlib.suppress(StepFailed):
                action()


def raw_algorithm(path: Path) -> AlgorithmMetadata:
    return AlgorithmMetadata(
        {
            "rawcode": path.read_text(),
            "language": "python",
            "format": "docker-image",
            "version": "0.1",
            "container": {
                "entrypoint": "python3 $ALGO",
                "image": "python",
                "tag": "3.11-slim",
                "checksum": "sha256:" + "0" * 64,
            },
        }
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", required=True)
    parser.add_argument("--dataset", required=True, help="dataset DID (compute service)")
    parser.add_argument("--algorithm", required=True, help="published algorithm DID")
    parser.add_argument("--sleeper", required=True, help="published long-running algorithm DID")
    parser.add_argument(
        "--strict-dataset", help="dataset DID refusing raw algorithms, trusting --algorithm only"
    )
    parser.add_argument("--raw-code", type=Path, help="run this file once as a raw algorithm")
    parser.add_argument("--custom-data", type=json.loads, default=None, help="algocustomdata JSON")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per job")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        print(f"{KEY_VARIABLE} is not set", file=sys.stderr)
        return 2
    account = Account.from_key(key)
    report: dict[str, Any] = {
        "client": "ocean.py",
        "version": version("ocean-lib"),
        "consumer": account.address,
    }
    flow = Flow(report)
    with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stdout(sys.stderr):
        client = Client(args, account, flow, Path(workdir))
        with contextlib.suppress(StepFailed):
            client.run()
    sys.stdout.write(json.dumps(report, indent=1, default=str) + "\n")
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
