"""The declarative side at scale: validate and plan N specs against a lock of N jobs.

    python3 bench/bench_plan.py [--sizes 1000,10000] [--rounds 3] [--resolve-count 1000]

Each measurement runs in a fresh child process, which reports its time and its peak RSS
(`ru_maxrss`, the whole process: interpreter and imports included) and the RSS it had
before the measured step (so the growth shows):

- validate: `load_manifests` on N generated manifests (bench_validate.py's corpus);
- lock: `load_lock` of a lockfile with N finished jobs (4 results each), as plan reads it
  (JSON, lock.schema.json, pydantic);
- plan: `make_plan` of N synthetic resolved jobs against that lock (90% up to date, 5%
  changed inputs, 5% new, as many orphans) plus its JSON rendering — what `plan` does after
  resolution;
- resolve (RESOLVE_COUNT specs only; 0 skips it): `specrunner plan --output json` as a user
  runs it against `specrunner provider serve`, each spec with its own local dataset, so
  resolution publishes every one (first run) — validate, resolve, lock, plan, print.

Prints per size the medians over ROUNDS, and the growth from the smallest to the largest size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from bench import common
    from bench.bench_validate import generate
except ImportError:  # run as a script: bench/ itself is on sys.path
    import common  # type: ignore[no-redef]
    from bench_validate import generate  # type: ignore[no-redef]


def rss_now() -> int:
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def digest(text: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def fingerprints(index: int, changed: bool = False) -> dict[str, str]:
    return {
        "provider": "https://provider.example.org",
        "environment": "env-1",
        "algorithm": digest(f"algorithm {index // 10}"),
        f"dataset did:op:{index:064x}": digest(f"dataset {index}{' v2' if changed else ''}"),
        "customData": digest(f"custom {index}"),
    }


def build_lock(count: int) -> Any:
    from specrunner.lockfile import Lock, LockedAlgorithm, LockedInput, LockedJob, LockedResult

    jobs = {}
    for index in range(count):
        name = f"job-{index:05d}" if index % 20 != 19 else f"old-{index:05d}"
        results = [
            LockedResult(
                index=i,
                type=kind,
                filename=f"{kind}-{i}.txt",
                filesize=100 + i,
                sha256=digest(f"{index} {i}")[7:],
                path=f"results/{name}/{kind}-{i}.txt",
            )
            for i, kind in enumerate(("output", "algorithmLog", "configrationLog", "publishLog"))
        ]
        jobs[name] = LockedJob(
            specDigest=digest(f"spec {index}"),
            fingerprints=fingerprints(index),
            provider="https://provider.example.org",
            chainId=8996,
            environment="env-1",
            owner="0x" + "ab" * 20,
            phase="finished",
            jobId=f"{index:032x}",
            status=70,
            statusText="Job finished",
            exitCode=0,
            dateCreated="1764000000.000000",
            dateFinished="1764000001.000000",
            outputsDir=f"results/{name}",
            inputs=[
                LockedInput(
                    did=f"did:op:{index:064x}",
                    serviceId="compute",
                    ddoDigest=digest(f"dataset {index}"),
                    transferTxId="0x" + f"{index:064x}",
                )
            ],
            algorithm=LockedAlgorithm(digest=digest(f"algorithm {index // 10}")),
            results=results,
        )
    return Lock(jobs=jobs)


def build_resolved(count: int) -> list[Any]:
    from specrunner.resolve.models import (
        ResolvedAlgorithm,
        ResolvedEnvironment,
        ResolvedInput,
        ResolvedJob,
    )

    environment = ResolvedEnvironment(id="env-1", reason="named in the spec")
    jobs = []
    for index in range(count):
        name = f"job-{index:05d}" if index % 20 != 19 else f"new-{index:05d}"
        changed = index % 20 == 7
        jobs.append(
            ResolvedJob(
                name=name,
                source=f"specs/{name}.yaml:1:1",
                specDigest=digest(f"spec {index}"),
                provider="https://provider.example.org",
                chainId=8996,
                owner="0x" + "ab" * 20,
                environment=environment,
                inputs=[
                    ResolvedInput(
                        did=f"did:op:{index:064x}",
                        serviceId="compute",
                        ddoDigest=digest(f"dataset {index}"),
                        label=f"did:op:{index:064x}",
                    )
                ],
                algorithm=ResolvedAlgorithm(
                    digest=digest(f"algorithm {index // 10}"), label="algo.py", meta={}
                ),
                outputsDir=f"results/{name}",
                fingerprints=fingerprints(index, changed),
            )
        )
    return jobs


def measure(kind: str, count: int, folder: Path) -> dict[str, float]:
    """The child process: one measured step; returns seconds, peak and starting RSS."""
    from specrunner import report
    from specrunner.lockfile import load_lock, save_lock
    from specrunner.manifest.loader import load_manifests
    from specrunner.plan import make_plan

    lockfile = folder / "specrunner.lock.json"
    if kind == "validate":
        before = rss_now()
        start = time.perf_counter()
        specs = load_manifests([folder / "specs"], environ={"BENCH_PROVIDER": "https://p.example"})
        elapsed = time.perf_counter() - start
        assert len(specs) == count
    elif kind == "lock":
        before = rss_now()
        start = time.perf_counter()
        lock = load_lock(lockfile)
        elapsed = time.perf_counter() - start
        assert len(lock.jobs) == count
    elif kind == "plan":
        lock = load_lock(lockfile)
        resolved = build_resolved(count)
        before = rss_now()
        start = time.perf_counter()
        plan = make_plan(resolved, lock)
        text = json.dumps(report.plan_json(plan))
        elapsed = time.perf_counter() - start
        assert len(plan.steps) >= count and text
    elif kind == "write-lock":
        before = rss_now()
        start = time.perf_counter()
        save_lock(lockfile, build_lock(count))
        elapsed = time.perf_counter() - start
    else:
        raise ValueError(kind)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": elapsed, "peak": peak, "before": before}


def child(kind: str, count: int, folder: Path) -> dict[str, float]:
    argv = [sys.executable, __file__, "--as-child", kind, str(count), str(folder)]
    done = subprocess.run(argv, capture_output=True, text=True, env=common.env(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {count} failed:\n{done.stderr[-4000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def resolve_workspace(folder: Path, count: int, provider: str) -> None:
    specs = folder / "specs"
    (specs / "data").mkdir(parents=True)
    (specs / "algo.py").write_text(common.TRIVIAL_ALGORITHM)
    for index in range(count):
        name = f"job-{index:05d}"
        (specs / "data" / f"{name}.csv").write_text(f"row,{index}\n")
        (specs / f"{name}.yaml").write_text(
            f"apiVersion: specrunner/v1\nkind: ComputeJob\nmetadata: {{name: {name}}}\n"
            f"provider: {{url: {provider}}}\n"
            'wallet: {privateKey: "${env:BENCH_WALLET_KEY}"}\n'
            f"datasets:\n  - path: data/{name}.csv\n"
            "algorithm:\n  file: algo.py\n"
            "  container: {entrypoint: python3 $ALGO, image: python, tag: '3.11'}\n"
        )


def time_resolve(folder: Path, count: int, rounds: int) -> list[float]:
    times = []
    with common.start_provider(folder / "provider") as provider:
        resolve_workspace(folder / "work", count, provider.url)
        env = {**common.env(), "BENCH_WALLET_KEY": common.BENCH_KEY}
        for _ in range(rounds):
            start = time.perf_counter()
            done = subprocess.run(
                common.specrunner_argv("plan", "specs/", "--output", "json"),
                cwd=folder / "work", env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            times.append(time.perf_counter() - start)
            if done.returncode != 0:
                raise RuntimeError(f"plan failed:\n{done.stderr[-4000:]}")
            assert len(json.loads(done.stdout)["steps"]) == count
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated spec counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--resolve-count", type=int, default=1000, help="0 skips it")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"sizes: {sizes}  rounds: {args.rounds}  {common.machine()}")
    results: dict[str, Any] = {}
    mb = 2**20
    with tempfile.TemporaryDirectory(prefix="specrunner-bench-plan-") as tmp:
        for count in sizes:
            folder = Path(tmp) / str(count)
            (folder / "specs").mkdir(parents=True)
            generate(folder / "specs", count)
            child("write-lock", count, folder)
            for kind in ("validate", "lock", "plan"):
                runs = [child(kind, count, folder) for _ in range(args.rounds)]
                row = {key: common.median([run[key] for run in runs]) for key in runs[0]}
                results[f"{kind} {count}"] = row
                print(
                    f"{kind:8} {count:>6}: {row['seconds']:.2f}s"
                    f" ({row['seconds'] / count * 1e6:.0f} µs each)"
                    f"  peak RSS {row['peak'] / mb:.0f} MB"
                    f" (+{(row['peak'] - row['before']) / mb:.0f} MB over {row['before'] / mb:.0f})"
                )
        if len(sizes) > 1:
            small, large = sizes[0], sizes[-1]
            for kind in ("validate", "lock", "plan"):
                a, b = results[f"{kind} {small}"], results[f"{kind} {large}"]
                grown = max(1, a["peak"] - a["before"])
                print(
                    f"growth {kind} {small} -> {large} ({large / small:.0f}x specs):"
                    f" time {b['seconds'] / a['seconds']:.1f}x,"
                    f" memory over start {(b['peak'] - b['before']) / grown:.1f}x"
                )
        if args.resolve_count:
            times = time_resolve(Path(tmp) / "resolve", args.resolve_count, args.rounds)
            results["resolve"] = {"first": times[0], "again": common.median(times[1:] or times)}
            again = results["resolve"]["again"]
            print(
                f"specrunner plan, {args.resolve_count} specs against a served provider: first "
                f"(publishes each dataset) {times[0]:.2f}s, again {again:.2f}s"
            )
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--as-child":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))))
    else:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        main()
