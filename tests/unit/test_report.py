from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from rich.cells import cell_len

from specrunner.manifest.problems import Problem
from specrunner.ocean.models import DDO, Service
from specrunner.plan import Plan, Step
from specrunner.report import (
    JobReport,
    JsonReporter,
    LiveView,
    TextReporter,
    event_text,
    live_rows,
    plan_json,
)

LONG = "01-summary-of-the-quarterly-sales-by-region"


@pytest.mark.parametrize("width", [80, 40, 20, 8])
def test_live_rows_fit_the_width_and_keep_names_apart(width: int) -> None:
    rows = {
        LONG: "started job 6f0c8f5e2a7b4c1d9e3f5a7b9c1d3e5f on specrunner-free",
        "02-" + LONG[3:]: "FAILED: exit code 3\nTraceback (most recent call last):",
        "b": "waiting",
    }
    lines = live_rows(rows, max(len(name) for name in rows), width, "…")
    assert len(lines) == 3
    assert all(cell_len(text) <= width and "\n" not in text for text in lines)
    if width >= 40:
        firsts = [text.split()[0] for text in lines]
        assert len(set(firsts)) == 3
        assert firsts[0].startswith("01-") and firsts[1].startswith("02-")


def test_live_rows_unchanged_when_they_fit() -> None:
    lines = live_rows({"alpha": "started job j1 on free", "b": "waiting"}, 5, 200, "…")
    assert lines == ["  alpha  started job j1 on free", "  b      waiting"]


def test_live_view_draws_its_last_state_when_it_ends() -> None:
    stream = io.StringIO()
    with LiveView(["alpha", "b"], stream=stream) as view:
        view({"event": "started", "job": "alpha", "jobId": "j1", "environment": "free"})
        view({"event": "status", "job": "b", "status": 40, "statusText": "Running algorithm"})
    assert stream.getvalue().splitlines()[-2:] == [
        "  alpha  started job j1 on free",
        "  b      40 Running algorithm",
    ]


def test_plain_events_and_failures(capsys: pytest.CaptureFixture[str]) -> None:
    event_text({"event": "finished", "job": "a", "results": 2})
    event_text({"event": "failed", "job": "a", "error": "exit code 3"})
    event_text({"event": "mystery", "job": "a"})
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "a: finished (2 results)"
    assert '"event": "mystery"' in out
    assert err == "a: FAILED: exit code 3\n"


PLAN = Plan(
    steps=[
        Step(name="kept", action="keep", reason="up to date"),
        Step(name="gone-job", action="orphan", reason="in the lockfile but no longer in the specs"),
    ]
)


def test_plan_text(capsys: pytest.CaptureFixture[str]) -> None:
    TextReporter().plan(PLAN)
    assert capsys.readouterr().out == (
        "  = kept      keep: up to date\n"
        "  - gone-job  orphan: in the lockfile but no longer in the specs"
        " (apply --prune drops it)\n"
        "\nPlan: 0 to create, 0 to replace, 0 to resume, 1 up to date, 1 orphaned.\n"
    )


def test_apply_plan_says_prune_and_ends_with_a_blank_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    TextReporter().apply_plan(PLAN, prune=True)
    out = capsys.readouterr().out
    assert "(dropped from the lock)" in out and out.endswith("orphaned.\n\n")


def test_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    JsonReporter().plan(PLAN)
    assert json.loads(capsys.readouterr().out) == {
        "steps": [
            {"name": "kept", "action": "keep", "reason": "up to date"},
            {
                "name": "gone-job",
                "action": "orphan",
                "reason": "in the lockfile but no longer in the specs",
            },
        ],
        "summary": {"create": 0, "replace": 0, "resume": 0, "keep": 1, "orphan": 1},
        "changes": False,
    }
    JsonReporter().apply_plan(PLAN, prune=False)
    (event,) = capsys.readouterr().out.splitlines()
    assert json.loads(event) == {"event": "plan", **plan_json(PLAN)}
    assert event.startswith('{"changes":false,"event":"plan","steps":[{"action":"keep",')


def test_json_apply_events_are_ndjson(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = JsonReporter()
    with reporter.apply_events(["a"]) as emit:
        emit({"event": "finished", "job": "a", "results": 1})
    reporter.apply_complete(1, "specrunner.lock.json")
    assert capsys.readouterr().out == '{"event":"finished","job":"a","results":1}\n'


def test_text_apply_events_off_a_terminal_are_plain_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reporter = TextReporter()
    with reporter.apply_events(["a"]) as emit:
        emit({"event": "finished", "job": "a", "results": 1})
    reporter.apply_complete(1, "specrunner.lock.json")
    assert capsys.readouterr().out == (
        "a: finished (1 results)\n\nApply complete: 1 job(s) run, lock in specrunner.lock.json.\n"
    )


REPORTS = [
    JobReport("alpha", "finished", 70, "Job finished ", "j1"),
    JobReport("b", "started", 40, "Running algorithm", "j2", drift=["still running"]),
    JobReport("new", "absent", drift=["not applied yet"]),
]


def test_status_text(capsys: pytest.CaptureFixture[str]) -> None:
    TextReporter().status(REPORTS)
    assert capsys.readouterr().out == (
        "  alpha  finished 70 Job finished              ok\n"
        "  b      started  40 Running algorithm         OUT OF SYNC\n"
        "      still running\n"
        "  new    absent   absent                       OUT OF SYNC\n"
        "      not applied yet\n"
        "\n1 in sync, 2 out of sync.\n"
    )


def test_status_json(capsys: pytest.CaptureFixture[str]) -> None:
    JsonReporter().status(REPORTS[:1])
    assert json.loads(capsys.readouterr().out) == [
        {
            "name": "alpha",
            "phase": "finished",
            "status": 70,
            "statusText": "Job finished ",
            "jobId": "j1",
            "drift": [],
            "inSync": True,
        }
    ]


ENVS = [
    {
        "id": "free",
        "priceMin": 0,
        "cpuNumber": 2,
        "ramGB": 4,
        "diskGB": 10,
        "currentJobs": 0,
        "maxJobs": 2,
        "maxJobDuration": 3600,
    },
    {"id": "paid", "priceMin": 1.5},
]


def test_environments(capsys: pytest.CaptureFixture[str]) -> None:
    TextReporter().environments(ENVS, 8996, "the embedded provider")
    assert capsys.readouterr().out == (
        "2 environment(s) on chain 8996 at the embedded provider:\n"
        "  free: free, 2 cpu, 4 GB RAM, 10 GB disk, 0/2 jobs, max 3600s\n"
        "  paid: priceMin 1.5, None cpu, None GB RAM, None GB disk, None/None jobs, max Nones\n"
    )
    JsonReporter().environments(ENVS, 8996, "x")
    assert json.loads(capsys.readouterr().out) == ENVS


def test_published(capsys: pytest.CaptureFixture[str]) -> None:
    ddo = DDO(id="did:op:1", services=[Service(id="s1", type="compute", serviceEndpoint="u")])
    TextReporter().published("dataset", ddo)
    assert capsys.readouterr().out == ("published dataset did:op:1\n  service s1 (compute) at u\n")
    JsonReporter().published("dataset", ddo)
    assert json.loads(capsys.readouterr().out) == ddo.as_wire()


def test_validate_lines(capsys: pytest.CaptureFixture[str]) -> None:
    problem = Problem("a.yaml", 1, 2, "$.kind", "wrong", hint="ComputeJob")
    TextReporter().valid(1, 1)
    TextReporter().problems([problem], "1 problem in manifests")
    out, err = capsys.readouterr()
    assert out == "1 manifest valid (1 file)\na.yaml:1:2: $.kind: wrong (hint: ComputeJob)\n"
    assert err == "1 problem in manifests\n"
    JsonReporter().problems([problem], "1 problem in manifests")
    out, err = capsys.readouterr()
    assert json.loads(out) == [problem.as_dict()] and err == ""


def test_rich_is_loaded_only_for_a_live_view() -> None:
    """Off a terminal (CI, pipes) apply's events are plain lines and rich is never imported."""
    probe = (
        "import sys\n"
        "from specrunner.report import TextReporter\n"
        "with TextReporter().apply_events(['a']) as emit:\n"
        "    emit({'event': 'kept', 'job': 'a', 'reason': 'up to date'})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["a: up to date", "[]"]
