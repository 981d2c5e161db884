"""ocean.py 3.1.2's client driving COUNT jobs: initialize+order → start → wait → every result.

Run by bench_client.py with the Python 3.10 venv of scripts/setup-compat:

    BENCH_KEY=0x... .cache/compat/py310/bin/python bench/oceanpy_client.py \\
        --provider URL --dataset DID --algorithm FILE --count N [--poll 0.3]

As ocean.py's README does it: `pay_for_compute_service` (initializeCompute; a `validOrder`
needs no chain, see tests/compat/oceanpy_flow.py), `OceanCompute.start` with a raw algorithm,
`status` every POLL seconds until `dateFinished`, then `result` for every index. Prints one
JSON object: jobs, client CPU seconds (process time of the loop) and wall seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from eth_account import Account
from ocean_lib.aquarius import Aquarius
from ocean_lib.data_provider.data_service_provider import DataServiceProvider
from ocean_lib.models.compute_input import ComputeInput
from ocean_lib.ocean.ocean_assets import OceanAssets
from ocean_lib.ocean.ocean_compute import OceanCompute
from ocean_lib.structures.algorithm_metadata import AlgorithmMetadata
from web3 import Web3

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "compat"))
from oceanpy_flow import NoChain, compute_service


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--algorithm", type=Path, required=True)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--poll", type=float, default=0.3)
    args = parser.parse_args()
    account = Account.from_key(os.environ["BENCH_KEY"])
    url = args.provider.rstrip("/")
    meta = AlgorithmMetadata(
        {
            "rawcode": args.algorithm.read_text(),
            "language": "python",
            "format": "docker-image",
            "version": "0.1",
            "container": {
                "entrypoint": "python3 $ALGO",
                "image": "python",
                "tag": "3.11",
                "checksum": "sha256:" + "0" * 64,
            },
        }
    )
    with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stdout(sys.stderr):
        ddo = Aquarius.get_instance(url).get_ddo(args.dataset)
        service = compute_service(ddo)
        chain_id = int(ddo.chain_id)
        address_file = Path(workdir) / "address.json"
        address_file.write_text(
            json.dumps(
                {"development": {"chainId": chain_id, "ERC721Factory": "0x" + "00" * 19 + "01"}}
            )
        )
        config = {
            "CHAIN_ID": chain_id,
            "NETWORK_NAME": "development",
            "ADDRESS_FILE": str(address_file),
            "web3_instance": Web3(NoChain()),
            "METADATA_CACHE_URI": url,
            "PROVIDER_URL": url,
        }
        assets = OceanAssets(config, DataServiceProvider)
        compute = OceanCompute({"METADATA_CACHE_URI": url}, DataServiceProvider)
        env = compute.get_free_c2d_environment(service.service_endpoint, chain_id)
        print("bench: setup done", file=sys.stderr)
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(args.count):
            datasets, _ = assets.pay_for_compute_service(
                datasets=[ComputeInput(ddo, service)],
                algorithm_data=meta,
                compute_environment=env["id"],
                valid_until=int(time.time()) + 3600,
                consume_market_order_fee_address=account.address,
                tx_dict={"from": account},
                consumer_address=env["consumerAddress"],
            )
            job_id = compute.start(
                account, datasets[0], env["id"], algorithm_meta=meta,
                algorithm_algocustomdata={"tag": index},
            )  # fmt: skip
            while True:
                status = compute.status(ddo, service, job_id, account)
                finished = status.get("dateFinished")
                if finished and Decimal(str(finished)) > 0:
                    break
                time.sleep(args.poll)
            for position in range(len(status.get("results") or [])):
                data = compute.result(ddo, service, job_id, position, account)
                (Path(workdir) / f"{job_id}-{position}").write_bytes(data)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    sys.stdout.write(json.dumps({"jobs": args.count, "cpu": cpu, "wall": wall}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
