"""How long `load_manifests` takes for many manifests, against bare YAML parsing of the same files.

    python3 bench/bench_validate.py [--count 10000]

Generates COUNT manifests (one per file, a third with two documents' worth of datasets,
local files and raw algorithms mixed with published DIDs) in a temporary folder, then times:

- baseline: `yaml.compose` of every file with the C loader (read + parse only);
- validate: `load_manifests` on the folder (parse with marks, env substitution, secret scan,
  JSON Schema, file checks, pydantic models, duplicate names).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from specrunner.manifest.loader import load_manifests

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as Loader  # type: ignore[assignment]

PUBLISHED = """\
# yaml-language-server: $schema=../schemas/job.schema.json
apiVersion: specrunner/v1
kind: ComputeJob
metadata:
  name: job-{index}
  labels: {{team: bench, shard: "{shard}"}}
provider:
  url: ${{env:BENCH_PROVIDER}}
  chainId: 8996
wallet:
  privateKey: ${{env:SPECRUNNER_PRIVATE_KEY}}
datasets:
  - did: did:op:{did}
    serviceId: compute
    userdata: {{limit: {index}}}
algorithm:
  did: did:op:{algo}
  serviceId: compute
  customData: {{threshold: 0.5, tags: [a, b, c]}}
environment:
  free: true
  minCpu: 1
  minRamGB: 2
policy:
  timeout: 1h30m
  retries: 1
"""
LOCAL = """\
apiVersion: specrunner/v1
kind: ComputeJob
metadata:
  name: local-{index}
datasets:
  - path: data/input.csv
  - path: data/*.csv
    userdata: {{header: true}}
algorithm:
  file: data/algo.py
  language: python
  container: {{entrypoint: python3 $ALGO, image: python, tag: "3.11"}}
  customData: {{column: text, min_length: 3}}
policy:
  timeout: 10m
outputs:
  dir: results/local-{index}
"""


def generate(folder: Path, count: int) -> None:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "input.csv").write_text("a,b\n1,2\n")
    (folder / "data" / "algo.py").write_text("print('hi')\n")
    for index in range(count):
        if index % 3 == 2:
            text = LOCAL.format(index=index)
        else:
            text = PUBLISHED.format(
                index=index, shard=index % 16, did=f"{index:064x}", algo=f"{index + 1:064x}"
            )
        (folder / f"job-{index:05d}.yaml").write_text(text)


def time_baseline(folder: Path) -> float:
    start = time.perf_counter()
    for path in sorted(folder.glob("*.yaml")):
        for _ in yaml.compose_all(path.read_text(encoding="utf-8"), Loader=Loader):
            pass
    return time.perf_counter() - start


def time_validate(folder: Path) -> tuple[float, int]:
    start = time.perf_counter()
    specs = load_manifests([folder], environ={"BENCH_PROVIDER": "https://provider.example.org"})
    return time.perf_counter() - start, len(specs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="manifests to generate")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="specrunner-bench-") as tmp:
        folder = Path(tmp)
        generate(folder, args.count)
        time_baseline(folder)  # warm the page cache so neither run pays for the first read
        baseline = time_baseline(folder)
        elapsed, loaded = time_validate(folder)
    assert loaded == args.count, f"expected {args.count} specs, loaded {loaded}"
    print(f"manifests: {args.count}  cpus: {os.cpu_count()}")
    print(f"baseline yaml.compose (C loader): {baseline:.2f}s")
    print(
        f"load_manifests:                   {elapsed:.2f}s"
        f"  ({elapsed / args.count * 1e6:.0f} µs each)"
    )
    print(f"ratio validate / baseline:        {elapsed / baseline:.1f}x")


if __name__ == "__main__":
    main()
