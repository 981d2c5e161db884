"""The CLI in-process (click's CliRunner): exit codes, the bug line and its log, reporters."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from specrunner import cli
from specrunner.commands import validate
from specrunner.errors import PlanError
from specrunner.report import JsonReporter, Reporter, TextReporter

ROOT = Path(__file__).parents[2]


def run_line(*args: str) -> Result:
    """`specrunner ARGS` in this process, stderr apart from stdout."""
    options: dict[str, Any] = {}
    if "mix_stderr" in inspect.signature(CliRunner).parameters:  # click < 8.2 mixes them
        options["mix_stderr"] = False
    runner = CliRunner(**options)
    return runner.invoke(cli.main, list(args), catch_exceptions=False)


def fail_with(error: BaseException) -> object:
    def run(paths: list[str], reporter: Reporter) -> int:
        raise error

    return run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_bug_exits_3_with_one_line_and_the_traceback_in_a_log(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "run", fail_with(RuntimeError("boom")))
    result = run_line("validate")
    log = workdir / ".specrunner" / "last-error.log"
    assert result.exit_code == 3
    assert result.stderr == (
        "specrunner: an unexpected error occurred (a bug): RuntimeError: boom; "
        f"the traceback is in {log}\n"
    )
    assert result.stdout == ""
    text = log.read_text()
    assert text.startswith("specrunner 0.1.0\nargv: ")
    assert "Traceback (most recent call last):" in text
    assert "in run\n    raise error\n" in text
    assert text.endswith("RuntimeError: boom\n")


def test_a_bug_with_debug_prints_the_traceback_instead(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "run", fail_with(KeyError("missing")))
    result = run_line("--debug", "validate")
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2] == "KeyError: 'missing'"
    assert lines[-1] == "specrunner: an unexpected error occurred (a bug): KeyError: 'missing'"
    assert not (workdir / ".specrunner").exists()


def test_the_log_goes_to_a_temp_file_when_the_folder_cannot_hold_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / ".specrunner").write_text("a file where the folder would be")
    monkeypatch.setattr(validate, "run", fail_with(RuntimeError("boom")))
    result = run_line("validate")
    assert result.exit_code == 3
    line, _, where = result.stderr.rstrip("\n").partition("; the traceback is in ")
    assert line == "specrunner: an unexpected error occurred (a bug): RuntimeError: boom"
    log = Path(where)
    try:
        assert log.name.startswith("specrunner-error-")
        assert log.read_text().endswith("RuntimeError: boom\n")
    finally:
        log.unlink()


def test_a_specrunner_error_is_one_line_and_exit_1(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "run", fail_with(PlanError("no spec named 'x'")))
    result = run_line("validate")
    assert (result.exit_code, result.stderr) == (1, "error: no spec named 'x'\n")
    assert not (workdir / ".specrunner").exists()


def test_the_cause_is_in_the_debug_traceback(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(paths: list[str], reporter: Reporter) -> int:
        try:
            raise OSError("disk on fire")
        except OSError as exc:
            raise PlanError("cannot plan") from exc

    monkeypatch.setattr(validate, "run", run)
    result = run_line("--debug", "validate")
    assert result.exit_code == 1
    assert "OSError: disk on fire" in result.stderr
    assert result.stderr.endswith("\nerror: cannot plan\n")


def test_ctrl_c_exits_130(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "run", fail_with(KeyboardInterrupt()))
    assert run_line("validate").exit_code == 130


def test_usage_errors_exit_2(workdir: Path) -> None:
    result = run_line("validate", "--no-such-option")
    assert result.exit_code == 2
    assert "No such option" in result.stderr and "--no-such-option" in result.stderr


def test_a_command_exit_code_is_kept(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validate, "run", lambda paths, reporter: 2)
    assert run_line("validate").exit_code == 2


def test_validate_in_process_picks_the_reporter_from_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    text = run_line("validate", "specs")
    assert text.exit_code == 0 and text.stdout.endswith(" valid (2 files)\n")
    json_result = run_line("validate", "--output", "json", "specs")
    assert (json_result.exit_code, json_result.stdout) == (0, "[]\n")


def test_build_reporter() -> None:
    assert isinstance(cli.build_reporter("text"), TextReporter)
    assert isinstance(cli.build_reporter("json"), JsonReporter)
    assert isinstance(cli.build_reporter(), TextReporter)
