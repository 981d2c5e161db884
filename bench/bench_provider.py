"""Provider throughput: status and signed result requests/s on one core, p50/p99 latency.

    python3 bench/bench_provider.py [--seconds 5] [--concurrency 16] [--rounds 3]

Starts `specrunner provider serve` pinned to CPU 0 (`taskset -c 0`); the load generator pins
itself to CPU 1 when there is one. CONCURRENCY wallets each run one trivial job first; then
each wallet gets one keep-alive loopback connection, and for SECONDS (and at most
--max-requests in all) sends, one after another:

- status: `GET /api/services/compute?consumerAddress=..&jobId=..` (unsigned, its own job);
- result: `GET /api/services/computeResult` for its job's output, signed with the next nonce
  (signatures are made before the clock starts, so the generator only sends).

The generator is a minimal HTTP/1.1 client on asyncio streams (Content-Length framing), so
it costs far less per request than the server; every answer must be 200. Prints requests/s
and latency percentiles per round and the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

try:
    from bench import common
except ImportError:  # run as a script: bench/ itself is on sys.path
    import common  # type: ignore[no-redef]


class Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads whole answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> Connection:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer, parts.netloc)

    async def get(self, target: str) -> int:
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def load(url: str, targets: list[list[str]], seconds: float) -> tuple[list[float], float]:
    """Each list of targets on its own connection until done or SECONDS; latencies, elapsed."""
    connections = [await Connection.open(url) for _ in targets]
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def drive(connection: Connection, paths: list[str]) -> None:
        for path in paths:
            if time.perf_counter() > deadline:
                return
            sent = time.perf_counter()
            status = await connection.get(path)
            latencies.append(time.perf_counter() - sent)
            if status != 200:
                raise RuntimeError(f"{path[:60]}... answered {status}")

    start = time.perf_counter()
    await asyncio.gather(*(drive(c, p) for c, p in zip(connections, targets, strict=True)))
    elapsed = time.perf_counter() - start
    for connection in connections:
        connection.close()
    return latencies, elapsed


def run_jobs(url: str, dataset: str, count: int) -> list[tuple[object, str, int]]:
    """COUNT fresh wallets, each with one finished job: (signer, job id, output index)."""
    from specrunner.ocean.compute import build_start_payload
    from specrunner.ocean.models import DDO, AlgorithmMetadata, ComputeInput, Service
    from specrunner.ocean.provider import DataServiceProvider
    from specrunner.ocean.signing import Signer

    client = DataServiceProvider()
    service = Service(id="compute", type="compute")
    meta = AlgorithmMetadata.model_validate(
        {
            "rawcode": common.TRIVIAL_ALGORITHM,
            "language": "python",
            "version": "0.1",
            "container": {"entrypoint": "python3 $ALGO", "image": "python", "tag": "3.11"},
        }
    )
    env = client.compute_environments(url, None)
    env_id = (env if isinstance(env, list) else next(iter(env.values())))[0]["id"]
    started = []
    for _ in range(count):
        signer = Signer.from_key(os.urandom(32))
        item = ComputeInput(DDO(id=dataset, services=[service]), service)
        answer = client.initialize_compute(
            url, [item], meta, env_id, int(time.time()) + 3600, signer.address
        )
        item.transfer_tx_id = answer["datasets"][0]["validOrder"]
        payload = build_start_payload(item, env_id, None, meta, None, [])
        started.append((signer, client.start_compute(url, signer, payload).jobId))
    jobs = []
    for signer, job_id in started:
        deadline = time.monotonic() + 60
        while True:
            (status,) = client.compute_status(url, signer.address, job_id)
            if status.finished:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} did not finish")
            time.sleep(0.05)
        index = next(i for i, r in enumerate(status.results) if r.type == "output")
        jobs.append((signer, job_id, index))
    client.close()
    return jobs


def status_targets(jobs: list[tuple[object, str, int]], each: int) -> list[list[str]]:
    paths = []
    for signer, job_id, _ in jobs:
        query = urlencode({"consumerAddress": signer.address, "jobId": job_id})  # type: ignore[attr-defined]
        paths.append([f"/api/services/compute?{query}"] * each)
    return paths


def result_targets(url: str, jobs: list[tuple[object, str, int]], each: int) -> list[list[str]]:
    from specrunner.ocean.provider import DataServiceProvider

    client = DataServiceProvider()
    paths = []
    for signer, job_id, index in jobs:
        urls = client.compute_result_urls(url, signer, job_id, [index] * each)
        paths.append([u[len(url) :] for u in urls])
    client.close()
    return paths


def report(name: str, latencies: list[float], elapsed: float) -> float:
    rate = len(latencies) / elapsed
    print(
        f"  {name}: {len(latencies)} requests in {elapsed:.2f}s = {rate:.0f}/s"
        f"  p50 {common.percentile(latencies, 0.5) * 1e3:.1f} ms"
        f"  p99 {common.percentile(latencies, 0.99) * 1e3:.1f} ms"
    )
    return rate


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase and round")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (wallets)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-requests", type=int, default=20_000, help="per phase and round")
    args = parser.parse_args(argv)
    cpus = os.sched_getaffinity(0)
    server_cpu, load_cpu = ("0", {1}) if len(cpus) > 1 and {0, 1} <= cpus else (None, None)
    print(
        f"concurrency: {args.concurrency}  provider on CPU {server_cpu or 'any'}, "
        f"load on CPU {sorted(load_cpu) if load_cpu else 'any'}  {common.machine()}"
    )
    affinity = os.sched_getaffinity(0)
    try:
        result = _run(args, server_cpu, load_cpu)
    finally:
        os.sched_setaffinity(0, affinity)
    return result


def _run(
    args: argparse.Namespace, server_cpu: str | None, load_cpu: set[int] | None
) -> dict[str, float]:
    each = max(1, args.max_requests // args.concurrency)
    rates: dict[str, list[float]] = {"status": [], "result": []}
    p50: dict[str, list[float]] = {"status": [], "result": []}
    p99: dict[str, list[float]] = {"status": [], "result": []}
    with tempfile.TemporaryDirectory(prefix="specrunner-bench-provider-") as tmp:
        root = Path(tmp)
        data = root / "input.csv"
        data.write_text("station,temp\nnorth,12.5\n")
        with common.start_provider(root / "provider", cpus=server_cpu) as provider:
            if load_cpu:
                os.sched_setaffinity(0, load_cpu)
            dataset = common.publish_file(provider.url, data, "dataset")["id"]
            jobs = run_jobs(provider.url, dataset, args.concurrency)
            for number in range(args.rounds):
                print(f"round {number + 1}:")
                phases = {
                    "status": status_targets(jobs, each),
                    "result": result_targets(provider.url, jobs, each),
                }
                for name, targets in phases.items():
                    latencies, elapsed = asyncio.run(load(provider.url, targets, args.seconds))
                    rates[name].append(report(name, latencies, elapsed))
                    p50[name].append(common.percentile(latencies, 0.5))
                    p99[name].append(common.percentile(latencies, 0.99))
    result = {}
    for name, values in rates.items():
        result[f"{name}_rate"] = common.median(values)
        result[f"{name}_p50"] = common.median(p50[name])
        result[f"{name}_p99"] = common.median(p99[name])
        print(
            f"median {name}: {result[f'{name}_rate']:.0f} req/s"
            f"  p50 {result[f'{name}_p50'] * 1e3:.1f} ms  p99 {result[f'{name}_p99'] * 1e3:.1f} ms"
        )
    return result


if __name__ == "__main__":
    main()
