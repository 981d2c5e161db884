"""Client efficiency: HTTP requests and client CPU per job, specrunner against ocean.py 3.1.2.

    python3 bench/bench_client.py [--count 20] [--rounds 3] [--oceanpy-poll 0.3]

One `specrunner provider serve`, a trivial dataset published once, and a counting loopback
proxy (bench/proxy.py) in front of the provider. Each client runs COUNT jobs one after the
other in its own process through the proxy — start → wait → every result (outputs and logs):

- specrunner: what `apply` runs per job (`JobRun.start`, `follow`, `collect`: initializeCompute,
  signed start, status polls with its PollPolicy, signed result downloads, lock writes);
- ocean.py (`.cache/compat/py310`, from scripts/setup-compat): `pay_for_compute_service`,
  `OceanCompute.start`, `status` every OCEANPY_POLL seconds until `dateFinished`, `result`
  for every index (bench/oceanpy_client.py).

Client CPU is the process time of the job loop in the client process (set-up, imports and
DDO resolution excluded); requests are counted by the proxy for the same loop only. Each
round runs both; the medians of the per-round ratios are printed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    from bench import common
    from bench.proxy import CountingProxy
except ImportError:  # run as a script: bench/ itself is on sys.path
    import common  # type: ignore[no-redef]
    from proxy import CountingProxy  # type: ignore[no-redef]

PY310 = common.ROOT / ".cache" / "compat" / "py310" / "bin" / "python"
SETUP_MARK = "bench: setup done"


def specrunner_client(provider: str, dataset: str, algorithm: Path, count: int) -> None:
    """The child process: COUNT jobs as apply runs them; prints a JSON line when done."""
    import threading

    from specrunner.execute.jobrun import JobRun, PollPolicy
    from specrunner.lockfile import Lock, LockWriter
    from specrunner.manifest.loader import load_manifests
    from specrunner.ocean.provider import DataServiceProvider
    from specrunner.ocean.signing import Signer
    from specrunner.resolve.resolver import Resolver

    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        (folder / "algo.py").write_text(algorithm.read_text())
        (folder / "job.yaml").write_text(
            "apiVersion: specrunner/v1\nkind: ComputeJob\nmetadata: {name: bench}\n"
            f"provider: {{url: {provider}}}\n"
            f"datasets:\n  - did: {dataset}\n    serviceId: compute\n"
            "algorithm:\n  file: algo.py\n"
            "  container: {entrypoint: python3 $ALGO, image: python, tag: '3.11'}\n"
        )
        (spec,) = load_manifests([folder / "job.yaml"])
        client = DataServiceProvider()
        signer = Signer.from_key(os.environ["BENCH_KEY"])
        job = Resolver(client, signer).resolve(spec)
        writer = LockWriter(folder / "specrunner.lock.json", Lock())
        run = JobRun(client, signer, writer, lambda _: None, threading.Lock(), PollPolicy(), folder)
        print(SETUP_MARK, file=sys.stderr, flush=True)
        cpu, wall = time.process_time(), time.perf_counter()
        for index in range(count):
            named = job.model_copy(
                update={"name": f"job-{index}", "algorithm": job.algorithm.model_copy(
                    update={"customData": {"tag": index}})}
            )  # fmt: skip
            entry = run.start(named, None)
            entry, status = run.follow(named, entry)
            final = run.collect(named, entry, status, None)
            assert final.phase == "finished", final.error
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    sys.stdout.write(json.dumps({"jobs": count, "cpu": cpu, "wall": wall}) + "\n")


def run_client(
    argv: list[str], proxy: CountingProxy, env: dict[str, str]
) -> tuple[dict[str, float], collections.Counter[str]]:
    """Run a client process; requests are counted from its set-up mark to its exit."""
    noise: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stderr is not None and process.stdout is not None
        for line in process.stderr:
            if SETUP_MARK in line:
                proxy.take()  # forget the set-up requests
                break
            noise.append(line)
        rest = process.stderr.read()
        out = process.stdout.read()
        code = process.wait()
    counts = proxy.take()
    if code != 0 or not out.strip():
        raise RuntimeError(f"{argv[:3]} failed ({code}):\n{''.join(noise)}{rest[-4000:]}")
    return json.loads(out.strip().splitlines()[-1]), counts


def describe(counts: collections.Counter[str], jobs: int) -> str:
    return ", ".join(f"{name} {n / jobs:.1f}" for name, n in counts.most_common())


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="jobs per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--oceanpy-poll", type=float, default=0.3, help="ocean.py's status poll")
    args = parser.parse_args(argv)
    if not PY310.exists():
        raise SystemExit(f"{PY310} is missing: run scripts/setup-compat")
    print(f"jobs per client: {args.count}  {common.machine()}")
    env = {**common.env(), "BENCH_KEY": common.BENCH_KEY}
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="specrunner-bench-client-") as tmp:
        root = Path(tmp)
        data = root / "input.csv"
        data.write_text("station,temp\nnorth,12.5\nsouth,17.0\n")
        algorithm = root / "algo.py"
        algorithm.write_text(common.TRIVIAL_ALGORITHM)
        with common.start_provider(root / "provider", max_jobs=2) as provider:
            dataset = common.publish_file(provider.url, data, "dataset")["id"]
            with CountingProxy(provider.url) as proxy:
                ours_argv = [sys.executable, __file__, "--as-specrunner", proxy.url, dataset,
                             str(algorithm), str(args.count)]  # fmt: skip
                theirs_argv = [str(PY310), str(Path(__file__).with_name("oceanpy_client.py")),
                               "--provider", proxy.url, "--dataset", dataset, "--algorithm",
                               str(algorithm), "--count", str(args.count),
                               "--poll", str(args.oceanpy_poll)]  # fmt: skip
                for number in range(args.rounds):
                    ours, ours_counts = run_client(ours_argv, proxy, env)
                    theirs, theirs_counts = run_client(theirs_argv, proxy, env)
                    n = args.count
                    row = {
                        "ours_requests": sum(ours_counts.values()) / n,
                        "theirs_requests": sum(theirs_counts.values()) / n,
                        "ours_cpu": ours["cpu"] / n,
                        "theirs_cpu": theirs["cpu"] / n,
                        "ours_wall": ours["wall"] / n,
                        "theirs_wall": theirs["wall"] / n,
                    }
                    rows.append(row)
                    print(
                        f"round {number + 1}: requests/job specrunner {row['ours_requests']:.1f}"
                        f" ocean.py {row['theirs_requests']:.1f}; CPU ms/job specrunner "
                        f"{row['ours_cpu'] * 1e3:.1f} ocean.py {row['theirs_cpu'] * 1e3:.1f};"
                        f" wall ms/job specrunner {row['ours_wall'] * 1e3:.0f}"
                        f" ocean.py {row['theirs_wall'] * 1e3:.0f}"
                    )
                    print(f"  specrunner per job: {describe(ours_counts, n)}")
                    print(f"  ocean.py per job:   {describe(theirs_counts, n)}")
    result = {key: common.median([row[key] for row in rows]) for key in rows[0]}
    result["request_ratio"] = common.median(
        [row["theirs_requests"] / row["ours_requests"] for row in rows]
    )
    result["cpu_ratio"] = common.median([row["theirs_cpu"] / row["ours_cpu"] for row in rows])
    print(
        f"median: requests/job specrunner {result['ours_requests']:.1f} ocean.py "
        f"{result['theirs_requests']:.1f} ({result['request_ratio']:.1f}x fewer); CPU ms/job "
        f"specrunner {result['ours_cpu'] * 1e3:.1f} ocean.py {result['theirs_cpu'] * 1e3:.1f}"
        f" ({result['cpu_ratio']:.1f}x less)"
    )
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--as-specrunner":
        specrunner_client(sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
