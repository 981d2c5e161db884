"""Every benchmark runs end to end at a tiny size (untimed), so CI notices when one breaks."""

from __future__ import annotations

import pytest

from bench import bench_apply, bench_client, bench_plan, bench_provider, bench_validate


def test_bench_validate_runs(capsys: pytest.CaptureFixture[str]) -> None:
    bench_validate.main(["--count", "6"])
    assert "ratio validate / baseline" in capsys.readouterr().out


def test_bench_apply_runs_jobs_and_the_floor() -> None:
    result = bench_apply.main(["--count", "2", "--rounds", "1"])
    assert result["floor"] > 0 and result["apply"] > 0


def test_bench_client_counts_both_clients() -> None:
    result = bench_client.main(["--count", "1", "--rounds", "1", "--oceanpy-poll", "0.05"])
    assert result["ours_requests"] > 0 and result["theirs_requests"] > 0
    assert result["ours_cpu"] > 0 and result["theirs_cpu"] > 0


def test_bench_provider_loads_status_and_results() -> None:
    result = bench_provider.main(
        ["--seconds", "0.3", "--concurrency", "2", "--rounds", "1", "--max-requests", "40"]
    )
    assert result["status_rate"] > 0 and result["result_rate"] > 0


def test_bench_plan_measures_every_step() -> None:
    result = bench_plan.main(["--sizes", "20,40", "--rounds", "1", "--resolve-count", "2"])
    assert {"validate 40", "lock 40", "plan 40", "resolve"} <= result.keys()
