"""The executor against a provider built from data: start, adopt, retry, replace, fail.

Each test runs whole applies (`Scene.apply`: plan against the recorded lock, execute) and
asserts what the provider saw and what the lock and the workspace hold afterwards.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from specrunner.errors import ProviderError, ProviderUnreachableError
from specrunner.execute.executor import Outcome
from tests.unit.execute.fake_provider import (
    FakeProvider,
    FakeResult,
    Fault,
    Script,
)
from tests.unit.execute.scene import SIGNER, Scene, build_job

SUMMARY = FakeResult("summary.json", b'{"rows": 3}\n')
LOG = FakeResult("algorithm.log", b"ran\n", type="algorithmLog")
RESTARTED = "the provider stopped while this job was running"
LOST = Script(reason="provider-restart", exit_code=None, message=RESTARTED)
BUSY = ProviderError(
    "computeStart failed (HTTP 503): no free slot in env",
    status_code=503,
    payload={"error": "no free slot in env"},
    endpoint="computeStart",
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def start_orders(provider: FakeProvider) -> list[str | None]:
    return [call.order for call in provider.calls if call.name == "start_compute"]


def test_a_finished_job_is_recorded_with_every_result_and_its_sha256(tmp_path: Path) -> None:
    scene = Scene(tmp_path, FakeProvider(default=Script(results=(SUMMARY, LOG))))

    assert scene.apply(build_job()) == [Outcome("job", "create", True, "finished", "job-1")]

    entry = scene.entry()
    assert (entry.phase, entry.jobId, entry.exitCode, entry.error) == ("finished", "job-1", 0, None)
    assert [(r.index, r.filename, r.path, r.sha256) for r in entry.results] == [
        (0, "summary.json", "results/job/outputs/summary.json", sha256(SUMMARY.content)),
        (1, "algorithm.log", "results/job/logs/algorithm.log", sha256(LOG.content)),
    ]
    assert (tmp_path / "results/job/outputs/summary.json").read_bytes() == SUMMARY.content
    assert scene.provider.names() == [
        "initialize_compute",
        "start_compute",
        "compute_status",
        "compute_status",
        "compute_result_urls",
        "download_to",
        "download_to",
    ]
    # The job ran on the order initializeCompute issued, recorded before the start.
    assert start_orders(scene.provider) == [entry.inputs[0].transferTxId]


def test_a_start_refused_for_now_is_retried_by_the_next_apply_on_the_recorded_order(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, FakeProvider(faults=[Fault("start_compute", BUSY)]))

    [refused] = scene.apply(build_job())
    assert (refused.ok, refused.message) == (False, str(BUSY))
    pending = scene.entry()
    assert pending.phase == "pending"
    assert pending.jobId is None
    order = pending.inputs[0].transferTxId

    [resumed] = scene.apply(build_job())
    assert (resumed.action, resumed.ok, resumed.job_id) == ("resume", True, "job-1")
    assert start_orders(scene.provider) == [order, order]
    assert scene.provider.count("initialize_compute") == 1  # not ordered twice


def test_a_start_whose_answer_was_lost_is_adopted_not_sent_again(tmp_path: Path) -> None:
    lost = ProviderUnreachableError("computeStart: no answer from http://provider.test")
    scene = Scene(tmp_path, FakeProvider(faults=[Fault("start_compute", lost, performed=True)]))

    assert scene.apply(build_job()) == [Outcome("job", "create", True, "finished", "job-1")]
    assert scene.provider.count("start_compute") == 1
    assert "adopted" in scene.kinds()


def test_an_unreachable_provider_fails_the_job_and_keeps_its_claim(tmp_path: Path) -> None:
    gone = ProviderUnreachableError("computeStatus: no answer from http://provider.test")
    faults = [Fault("start_compute", gone), Fault("compute_status", gone)]
    scene = Scene(tmp_path, FakeProvider(faults=faults))

    assert scene.apply(build_job()) == [Outcome("job", "create", False, str(gone))]
    assert scene.provider.jobs == {}
    assert scene.entry().phase == "pending"
    assert scene.kinds()[-1] == "failed"


def test_an_expired_recorded_order_is_ordered_again_once(tmp_path: Path) -> None:
    scene = Scene(tmp_path, FakeProvider(faults=[Fault("start_compute", BUSY)]))
    scene.apply(build_job())
    expired = scene.entry().inputs[0].transferTxId
    assert expired is not None
    scene.provider.expire(expired)

    [outcome] = scene.apply(build_job())

    assert outcome.ok
    orders = start_orders(scene.provider)
    assert orders[:2] == [expired, expired]
    assert len(orders) == 3
    assert orders[2] != expired
    assert scene.provider.count("initialize_compute") == 2
    assert scene.entry().inputs[0].transferTxId == orders[2]


def test_an_order_refused_again_after_ordering_again_fails_without_a_third_order(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, FakeProvider(faults=[Fault("start_compute", BUSY)]))
    scene.apply(build_job())
    scene.provider.refuse_orders = True

    [outcome] = scene.apply(build_job())

    assert not outcome.ok
    assert "order_invalid" in outcome.message
    assert scene.provider.count("initialize_compute") == 2
    assert scene.provider.count("start_compute") == 3


def test_a_pending_claim_whose_job_runs_is_adopted_without_a_second_start(
    tmp_path: Path,
) -> None:
    lost = ProviderUnreachableError("computeStart: no answer from http://provider.test")
    listing = ProviderUnreachableError("computeStatus: no answer from http://provider.test")
    faults = [Fault("start_compute", lost, performed=True), Fault("compute_status", listing)]
    scene = Scene(tmp_path, FakeProvider(faults=faults))
    [first] = scene.apply(build_job())
    assert not first.ok
    assert scene.entry().phase == "pending"
    assert list(scene.provider.jobs) == ["job-1"]  # it did start, unknown to the lock

    [adopted] = scene.apply(build_job())

    assert adopted == Outcome("job", "resume", True, "finished", "job-1")
    assert scene.provider.count("start_compute") == 1
    assert scene.entry().jobId == "job-1"


def test_an_order_in_use_by_an_older_job_is_refused_and_that_job_never_adopted(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, FakeProvider(faults=[Fault("start_compute", BUSY)]))
    scene.apply(build_job())
    order = scene.entry().inputs[0].transferTxId
    # A job on the same order, started an hour before our claim: not the one we staked.
    older = scene.provider.add_job(SIGNER.address, order, age=3600)

    [outcome] = scene.apply(build_job())

    assert not outcome.ok
    assert "already in use" in outcome.message
    assert scene.provider.count("start_compute") == 2
    assert "adopted" not in scene.kinds()
    assert scene.entry().jobId is None
    assert older.polls == 0  # never followed


def test_a_job_lost_in_a_provider_restart_is_started_again_exactly_once(tmp_path: Path) -> None:
    scene = Scene(tmp_path, FakeProvider(scripts=[LOST]))

    assert scene.apply(build_job()) == [Outcome("job", "create", True, "finished", "job-2")]
    assert scene.provider.count("start_compute") == 2
    retries = [event for event in scene.events if event["event"] == "retry"]
    assert retries == [{"event": "retry", "job": "job", "attempt": 2, "error": RESTARTED}]


def test_a_job_lost_in_two_restarts_fails_the_second_time(tmp_path: Path) -> None:
    scene = Scene(tmp_path, FakeProvider(default=LOST))

    assert scene.apply(build_job()) == [Outcome("job", "create", False, RESTARTED, "job-2")]
    assert scene.provider.count("start_compute") == 2
    assert scene.entry().phase == "failed"


def test_the_restart_bonus_comes_on_top_of_the_specs_retries(tmp_path: Path) -> None:
    failing = Script(exit_code=3)
    scene = Scene(tmp_path, FakeProvider(scripts=[LOST, failing, failing, Script()]))

    [outcome] = scene.apply(build_job(retries=1))

    assert outcome.message == "the algorithm exited with code 3"
    assert scene.provider.count("start_compute") == 3
    assert [e["attempt"] for e in scene.events if e["event"] == "retry"] == [2, 3]


def test_replace_stops_the_recorded_running_job_before_starting_anew(tmp_path: Path) -> None:
    scene = Scene(tmp_path)
    scene.apply(build_job(), wait=False)
    assert scene.entry().phase == "started"

    [outcome] = scene.apply(build_job(version=2))

    assert (outcome.action, outcome.ok, outcome.job_id) == ("replace", True, "job-2")
    names = scene.provider.names()
    stop = names.index("stop_compute")
    assert scene.provider.calls[stop].job_id == "job-1"
    assert stop < len(names) - 1 - names[::-1].index("start_compute")
    assert scene.entry().replacesJobId == "job-1"


def test_replace_removes_the_old_results_before_starting_anew(tmp_path: Path) -> None:
    scene = Scene(tmp_path, FakeProvider(scripts=[Script(results=(SUMMARY,))]))
    scene.apply(build_job())
    old = tmp_path / "results/job/outputs/summary.json"
    assert old.is_file()
    present_at_start: list[bool] = []
    scene.provider.on_start = lambda: present_at_start.append(old.exists())
    scene.provider.default = Script(results=(FakeResult("other.json", b"{}"),))

    [outcome] = scene.apply(build_job(version=2))

    assert outcome.ok
    assert present_at_start == [False]
    assert [r.path for r in scene.entry().results] == ["results/job/outputs/other.json"]
    assert "stop_compute" not in scene.provider.names()  # it had finished


def test_a_failed_algorithm_ends_failed_with_its_exit_code_and_keeps_its_logs(
    tmp_path: Path,
) -> None:
    scene = Scene(tmp_path, FakeProvider(default=Script(exit_code=2, results=(LOG,))))

    [outcome] = scene.apply(build_job())

    assert outcome == Outcome("job", "create", False, "the algorithm exited with code 2", "job-1")
    entry = scene.entry()
    assert (entry.phase, entry.exitCode, entry.error) == (
        "failed",
        2,
        "the algorithm exited with code 2",
    )
    assert [r.path for r in entry.results] == ["results/job/logs/algorithm.log"]
    assert scene.provider.count("start_compute") == 1  # no retries asked for


def test_a_corrupted_download_fails_the_job_and_leaves_no_file(tmp_path: Path) -> None:
    corrupted = FakeResult("summary.json", b'{"rows": 3}\n', advertised="0" * 64)
    scene = Scene(tmp_path, FakeProvider(default=Script(results=(corrupted,))))

    [outcome] = scene.apply(build_job())

    assert not outcome.ok
    assert "summary.json arrived corrupted" in outcome.message
    assert not (tmp_path / "results/job/outputs/summary.json").exists()
    entry = scene.entry()
    # Still started, with nothing recorded: the next apply downloads again.
    assert (entry.phase, entry.results) == ("started", [])


def test_a_job_that_vanishes_from_the_provider_fails_saying_so(tmp_path: Path) -> None:
    scene = Scene(tmp_path, FakeProvider(default=Script(vanish_after=1)))

    [outcome] = scene.apply(build_job())

    assert outcome.message == "job: job job-1 vanished from http://provider.test"


def test_concurrent_jobs_stay_within_parallelism_and_each_environments_free_slots(
    tmp_path: Path,
) -> None:
    # Each job holds its first status until 3 jobs run in its environment, or for 0.5 s:
    # long enough for the allowed jobs to overlap, and one job too many ends the hold.
    held = Script(hold_until_running=3, hold_for=0.5)
    roomy = [build_job(f"roomy{i}", environment="roomy") for i in range(3)]
    busy = [build_job(f"busy{i}", environment="busy", free_slots=1) for i in range(2)]
    scene = Scene(tmp_path, FakeProvider(default=held))

    outcomes = scene.apply(*roomy, *busy, parallelism=2)

    assert all(outcome.ok for outcome in outcomes)
    assert scene.provider.max_running == {"roomy": 2, "busy": 1}
    assert scene.provider.max_total == 3  # environments do not share a bound
