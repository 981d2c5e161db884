"""`specrunner validate`: exit codes, text and JSON output, and the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from specrunner.commands import validate
from specrunner.report import JsonReporter, TextReporter

ROOT = Path(__file__).parents[2]
INVALID = ROOT / "tests" / "data" / "manifests" / "invalid"


def test_valid_manifests_exit_0_with_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.run([str(ROOT / "specs")], TextReporter()) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"\d+ manifests valid \(\d+ files\)\n", out)


def test_problems_exit_1_one_line_each(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(INVALID)
    assert validate.run(["unknown-keys.yaml", "wrong-api-version.yaml"], TextReporter()) == 1
    captured = capsys.readouterr()
    expected = (INVALID / "unknown-keys.expected").read_text() + (
        INVALID / "wrong-api-version.expected"
    ).read_text()
    assert captured.out == expected
    assert captured.err == "7 problems in manifests\n"


def test_json_output_lists_the_same_problems(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(INVALID)
    assert validate.run(["bad-durations.yaml"], JsonReporter()) == 1
    problems = json.loads(capsys.readouterr().out)
    assert problems[0] == {
        "file": "bad-durations.yaml",
        "line": 11,
        "column": 12,
        "path": "$.policy.timeout",
        "message": "text '10 minutes' is not a duration",
        "hint": "seconds as a number, or 90s, 10m, 2h, 1h30m",
    }
    assert len(problems) == 2


def test_json_output_when_valid_is_an_empty_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert validate.run([str(ROOT / "specs")], JsonReporter()) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_missing_path_is_a_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert validate.run([str(tmp_path / "nowhere")], TextReporter()) == 1
    assert capsys.readouterr().out == f"{tmp_path / 'nowhere'}:1:1: $: no such file or folder\n"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "specrunner", "validate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_default_path_is_specs() -> None:
    result = cli()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "manifests valid" in result.stdout


def test_cli_reports_every_invalid_case_without_a_traceback() -> None:
    cases = sorted(
        path.name for path in INVALID.iterdir() if path.suffix == ".yaml" or path.is_dir()
    )
    result = cli(*cases, cwd=INVALID)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    expected = "".join(
        (INVALID / (case.removesuffix(".yaml") + ".expected")).read_text() for case in cases
    )
    assert result.stdout == expected


def test_cli_json_and_nonexistent_path(tmp_path: Path) -> None:
    result = cli("--output", "json", str(tmp_path / "missing.yaml"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (problem,) = json.loads(result.stdout)
    assert problem["message"] == "no such file or folder"


def test_cli_survives_garbage(tmp_path: Path) -> None:
    (tmp_path / "junk.yaml").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "deep.yaml").write_text("[" * 200_000)
    result = cli(str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout.count("\n") == 2


def test_pre_commit_hook_runs_validate_on_manifests() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "specrunner-validate"
    assert hook["entry"].split()[:2] == ["specrunner", "validate"]
    assert hook["language"] == "python"
    files = re.compile(hook["files"])
    assert files.search("specs/word-count.yaml") and files.search("jobs/specs/a.yml")
    assert not files.search("pyproject.toml") and not files.search(".github/workflows/ci.yaml")
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    local = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert any(hook["id"] == "specrunner-validate" and "specs" in hook["entry"] for hook in local)
