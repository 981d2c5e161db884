"""End-to-end overhead of `specrunner apply` against a bare bubblewrap floor, in the same run.

    python3 bench/bench_apply.py [--count 100] [--rounds 3] [--parallelism 2]

Starts `specrunner provider serve` (one free environment, maxJobs = parallelism) and, per
round:

- floor: COUNT runs of a trivial algorithm (read the input, write one small JSON output) in a
  bare bubblewrap sandbox — read-only /usr and the system folders, private /tmp, /proc, /dev,
  /data/inputs and /data/transformations bound read-only, /data/outputs writable, every
  namespace unshared — PARALLELISM at a time, each from its own prepared folder;
- apply: COUNT specs running the same algorithm on the same input (one shared local dataset,
  a `customData` tag per spec so each is its own job) through `specrunner apply
  --parallelism PARALLELISM --output json` in a fresh workspace, timed from the command's
  start to its exit (CLI start-up, resolution, publishing, orders, starts, polling,
  downloads and lock writes included).

Prints each round and the medians; the ratio is apply / floor of the same round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

try:
    from bench import common
except ImportError:  # run as a script: bench/ itself is on sys.path
    import common  # type: ignore[no-redef]

DID = "0" * 64  # the floor's input folder name; any DID-shaped name does
INPUT_TEXT = "station,temp\nnorth,12.5\nsouth,17.0\n"
SYSTEM_DIRS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64")


def spec(index: int, provider: str) -> str:
    return (
        "apiVersion: specrunner/v1\nkind: ComputeJob\n"
        f"metadata: {{name: job-{index:05d}}}\n"
        f"provider: {{url: {provider}}}\n"
        'wallet: {privateKey: "${env:BENCH_WALLET_KEY}"}\n'
        "datasets:\n  - path: data/input.csv\n"
        "algorithm:\n  file: algo.py\n"
        "  container: {entrypoint: python3 $ALGO, image: python, tag: '3.11'}\n"
        f"  customData: {{tag: {index}}}\n"
        "policy: {timeout: 2m}\n"
    )


def workspace(folder: Path, count: int, provider: str) -> Path:
    specs = folder / "specs"
    (specs / "data").mkdir(parents=True)
    (specs / "data" / "input.csv").write_text(INPUT_TEXT)
    (specs / "algo.py").write_text(common.TRIVIAL_ALGORITHM)
    for index in range(count):
        (specs / f"job-{index:05d}.yaml").write_text(spec(index, provider))
    return folder


def time_apply(folder: Path, parallelism: int) -> float:
    command = common.specrunner_argv(
        "apply", "specs/", "--parallelism", str(parallelism), "--output", "json"
    )
    env = {**common.env(), "BENCH_WALLET_KEY": common.BENCH_KEY}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"apply failed ({done.returncode}):\n{done.stderr[-4000:]}")
    lock = json.loads((folder / "specrunner.lock.json").read_text())
    unfinished = [name for name, job in lock["jobs"].items() if job["phase"] != "finished"]
    if unfinished:
        raise RuntimeError(f"jobs not finished: {unfinished[:5]}")
    return elapsed


def bwrap_argv(data: Path) -> list[str]:
    argv = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session"]
    argv += ["--ro-bind", "/usr", "/usr"]
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            argv += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            argv += ["--ro-bind", folder, folder]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    argv += ["--ro-bind", str(data / "inputs"), "/data/inputs"]
    argv += ["--ro-bind", str(data / "transformations"), "/data/transformations"]
    argv += ["--bind", str(data / "outputs"), "/data/outputs"]
    argv += ["--chdir", "/data", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin"]
    argv += ["--setenv", "DIDS", json.dumps([DID]), "--setenv", "HOME", "/tmp"]
    return [*argv, "--", "python3", "/data/transformations/algorithm"]


def prepare_floor(folder: Path, count: int) -> list[Path]:
    runs = []
    for index in range(count):
        data = folder / f"run-{index:05d}"
        (data / "inputs" / DID).mkdir(parents=True)
        (data / "inputs" / DID / "0").write_text(INPUT_TEXT)
        (data / "transformations").mkdir()
        (data / "transformations" / "algorithm").write_text(common.TRIVIAL_ALGORITHM)
        (data / "outputs").mkdir()
        runs.append(data)
    return runs


def run_floor(data: Path) -> None:
    with (data / "algorithm.log").open("wb") as log:
        code = subprocess.run(bwrap_argv(data), stdout=log, stderr=log, check=False).returncode
    if code != 0 or not (data / "outputs" / "out.json").is_file():
        raise RuntimeError(
            f"bare bwrap run failed ({code}): {(data / 'algorithm.log').read_text()}"
        )


def time_floor(folder: Path, count: int, parallelism: int) -> float:
    runs = prepare_floor(folder, count)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        list(pool.map(run_floor, runs))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="jobs per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians are reported)")
    parser.add_argument("--parallelism", type=int, default=2)
    args = parser.parse_args(argv)
    if shutil.which("bwrap") is None:
        raise SystemExit("bwrap is not installed: apt-get install bubblewrap")
    print(f"jobs: {args.count}  parallelism: {args.parallelism}  {common.machine()}")
    floors: list[float] = []
    applies: list[float] = []
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="specrunner-bench-apply-") as tmp:
        root = Path(tmp)
        with common.start_provider(root / "provider", max_jobs=args.parallelism) as provider:
            for number in range(args.rounds):
                floor = time_floor(root / f"floor-{number}", args.count, args.parallelism)
                folder = workspace(root / f"apply-{number}", args.count, provider.url)
                applied = time_apply(folder, args.parallelism)
                floors.append(floor)
                applies.append(applied)
                ratios.append(applied / floor)
                print(
                    f"round {number + 1}: floor {floor:.2f}s  apply {applied:.2f}s"
                    f"  ratio {applied / floor:.2f}x"
                )
    result = {
        "floor": common.median(floors),
        "apply": common.median(applies),
        "ratio": common.median(ratios),
    }
    print(
        f"median: floor {result['floor']:.2f}s ({result['floor'] / args.count * 1e3:.0f} ms/job)"
        f"  apply {result['apply']:.2f}s ({result['apply'] / args.count * 1e3:.0f} ms/job)"
        f"  ratio {result['ratio']:.2f}x"
    )
    return result


if __name__ == "__main__":
    main()
