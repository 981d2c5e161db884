"""The worked examples in specs/: each validates, and each algorithm runs on its own data
laid out as an Ocean C2D job sees it (inputs/<did without did:op:>/0, algoCustomData.json)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specrunner.manifest.loader import load_manifests
from specrunner.spec import LocalDataset, RawAlgorithm, Spec

SPECS = Path(__file__).parents[2] / "specs"
EXAMPLES = sorted(SPECS.glob("*.yaml"))


def test_there_are_examples_for_a_newcomer() -> None:
    names = {spec.name for spec in load_manifests([SPECS], environ={})}
    assert {"word-count", "sales-by-region"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_example_validates_and_runs_on_the_embedded_provider(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    assert text.startswith("# yaml-language-server: $schema=../schemas/job.schema.json\n")
    for spec in load_manifests([example], environ={}):
        assert spec.provider is None and spec.wallet is None  # the embedded provider
        assert isinstance(spec.algorithm, RawAlgorithm)
        assert spec.algorithm.container.entrypoint == "python3 $ALGO"


def run_like_a_job(spec: Spec, root: Path) -> Path:
    """Lay out `root` as /data and run the spec's algorithm file against it."""
    for index, dataset in enumerate(spec.datasets):
        assert isinstance(dataset, LocalDataset)
        folder = root / "inputs" / f"{index:064x}"
        folder.mkdir(parents=True)
        for number, file in enumerate(dataset.files):
            (folder / str(number)).write_bytes(file.read_bytes())
    assert isinstance(spec.algorithm, RawAlgorithm) and spec.algorithm.file_path
    custom = json.dumps(spec.algorithm.custom_data or {})
    (root / "inputs" / "algoCustomData.json").write_text(custom)
    subprocess.run(
        [sys.executable, str(spec.algorithm.file_path)],
        env={**os.environ, "DATA_ROOT": str(root)},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return root / "outputs"


def test_word_count_counts_the_configured_column(tmp_path: Path) -> None:
    (spec,) = load_manifests([SPECS / "word-count.yaml"], environ={})
    outputs = run_like_a_job(spec, tmp_path)
    result = json.loads((outputs / "word_counts.json").read_text())
    assert result["rows"] == 6
    assert len(result["top"]) == 5  # customData.top
    assert result["top"][:3] == [
        {"word": "guide", "count": 3},
        {"word": "lighthouse", "count": 3},
        {"word": "wonderful", "count": 3},
    ]
    assert all(len(entry["word"]) >= 4 for entry in result["top"])  # customData.min_length


def test_sales_by_region_joins_the_two_datasets(tmp_path: Path) -> None:
    (spec,) = load_manifests([SPECS / "sales-by-region.yaml"], environ={})
    assert len(spec.datasets) == 2
    outputs = run_like_a_job(spec, tmp_path)
    with (outputs / "sales_by_region.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["region", "total_eur"],
        ["north", "300.40"],
        ["south", "350.25"],
        ["unknown", "10.00"],
        ["west", "75.10"],
    ]
