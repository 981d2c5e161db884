"""Unmodified Ocean clients against our provider: ocean.py 3.1.2 and ocean.js 3.4.6.

Assets are published with `specrunner publish`; each client then runs the compute flow of
reference §4.13 in its own process (tests/compat/oceanpy_flow.py, tests/compat/oceanjs_flow.mjs),
with a fresh wallet, and reports what it saw as JSON. The clients come from `scripts/setup-compat`;
without them these tests fail and say so, they never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningProvider

pytestmark = pytest.mark.compat

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = REPO / ".cache" / "compat"
PY310 = CACHE / "py310" / "bin" / "python"
OCEAN_JS = CACHE / "js"
SETUP_HINT = "run scripts/setup-compat (it installs ocean.py and ocean.js into .cache/compat)"

PUBLISHER_KEY = "0x" + "5e" * 32
DATASET_TEXT = "station,temp\nnorth,12.5\nsouth,17.0\n"
CUSTOM_DATA = {"greeting": "hello from the compat test", "threshold": 3}
DRIVER_TIMEOUT = 300


@dataclass(frozen=True)
class Assets:
    provider: str
    dataset: str
    algorithm: str
    sleeper: str
    strict_dataset: str


def publish(provider: str, path: Path, *extra: str) -> dict[str, Any]:
    env = {**os.environ, "SPECRUNNER_PRIVATE_KEY": PUBLISHER_KEY}
    command = [sys.executable, "-m", "specrunner", "publish", str(path), "--provider", provider]
    done = subprocess.run(
        [*command, *extra, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"publish {path.name} failed:\n{done.stdout}\n{done.stderr}"
    ddo: dict[str, Any] = json.loads(done.stdout)
    return ddo


@pytest.fixture(scope="module")
def assets(provider: RunningProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assets]:
    folder = tmp_path_factory.mktemp("compat-assets")
    data = folder / "stations.csv"
    data.write_text(DATASET_TEXT)
    dataset = publish(provider.url, data, "--type", "dataset", "--allow-raw-algorithm")
    algorithm = publish(
        provider.url,
        HERE / "algorithms" / "summarize.py",
        "--type",
        "algorithm",
        "--entrypoint",
        "python3 $ALGO",
    )
    sleeper = publish(provider.url, HERE / "algorithms" / "sleeper.py", "--type", "algorithm")
    strict_data = folder / "strict.csv"
    strict_data.write_text("refuses raw and untrusted algorithms\n")
    strict = publish(
        provider.url,
        strict_data,
        "--type",
        "dataset",
        "--no-allow-raw-algorithm",
        "--trusted-algorithm",
        algorithm["id"],
    )
    yield Assets(provider.url, dataset["id"], algorithm["id"], sleeper["id"], strict["id"])


def driver_arguments(assets: Assets) -> list[str]:
    return [
        "--provider",
        assets.provider,
        "--dataset",
        assets.dataset,
        "--algorithm",
        assets.algorithm,
        "--sleeper",
        assets.sleeper,
        "--strict-dataset",
        assets.strict_dataset,
        "--raw-code",
        str(HERE / "algorithms" / "summarize.py"),
        "--custom-data",
        json.dumps(CUSTOM_DATA),
    ]


@dataclass
class Run:
    report: dict[str, Any]
    stderr: str

    def check_no_errors(self, *prefixes: str) -> None:
        """No step whose name starts with one of the prefixes failed (all steps if none given)."""
        errors = {
            name: error
            for name, error in self.report.get("errors", {}).items()
            if not prefixes or name.startswith(prefixes)
        }
        if errors:
            shown = "\n".join(
                f"- {name}: {error.get('type')}: {error.get('message')}\n"
                f"{error.get('traceback') or error.get('stack') or ''}"
                for name, error in errors.items()
            )
            tail = "\n".join(self.stderr.splitlines()[-40:])
            client = self.report.get("client")
            pytest.fail(f"{client} failed:\n{shown}\nclient stderr (tail):\n{tail}")


def run_driver(command: list[str], env: dict[str, str]) -> Run:
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=DRIVER_TIMEOUT,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"{command[1]} printed no JSON report (exit {done.returncode}):\n"
            f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-6000:]}"
        )
    return Run(report, done.stderr)


def client_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["COMPAT_PRIVATE_KEY"] = "0x" + os.urandom(32).hex()
    return env


@pytest.fixture(scope="module")
def oceanpy(assets: Assets) -> Run:
    if not PY310.exists():
        pytest.fail(f"ocean.py 3.1.2 (Python 3.10 venv {PY310}) is missing: {SETUP_HINT}")
    command = [str(PY310), str(HERE / "oceanpy_flow.py"), *driver_arguments(assets)]
    return run_driver(command, client_env())


@pytest.fixture(scope="module")
def oceanjs(assets: Assets) -> Run:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is missing (ocean.js needs node 20): {SETUP_HINT}")
    if not (OCEAN_JS / "node_modules" / "@oceanprotocol" / "lib" / "package.json").exists():
        pytest.fail(f"ocean.js 3.4.6 ({OCEAN_JS}) is missing: {SETUP_HINT}")
    command = [node, str(HERE / "oceanjs_flow.mjs"), *driver_arguments(assets)]
    env = client_env()
    env["OCEAN_JS_DIR"] = str(OCEAN_JS)
    return run_driver(command, env)


def did_folder(did: str) -> str:
    return did.removeprefix("did:op:")


def expected_summary(assets: Assets, custom: dict[str, Any] | None) -> str:
    """Exactly what algorithms/summarize.py writes for the published dataset."""
    summary = {
        "custom": custom,
        "dids": [did_folder(assets.dataset)],
        "input": DATASET_TEXT,
        "lines": len(DATASET_TEXT.splitlines()),
    }
    return json.dumps(summary, sort_keys=True) + "\n"


def check_algorithm_log(text: str, assets: Assets) -> None:
    lines = len(DATASET_TEXT.splitlines())
    assert f"compat-algo: read {lines} lines from {did_folder(assets.dataset)}" in text
    assert "compat-algo: a line on stderr" in text


def check_finished(job: dict[str, Any]) -> None:
    final = job["final_status"]
    assert final["jobId"] == job["job_id"]
    assert final["status"] == 70, final
    assert final["statusText"] == "Job finished"
    assert float(final["dateFinished"]) > 0


def check_environments(run: Run) -> None:
    report = run.report
    free = report["free_environment"]
    assert float(free["priceMin"]) == 0
    assert free["id"]
    assert free["consumerAddress"].startswith("0x")
    assert report["fileinfo_valid"] is True


def check_initialize(answer: dict[str, Any], with_algorithm: bool) -> None:
    """A free environment: one order per input, reusable as is, and no fee to pay on chain."""
    [dataset] = answer["datasets"]
    assert dataset["validOrder"].startswith("0x")
    assert "providerFee" not in dataset
    if with_algorithm:
        assert answer["algorithm"]["validOrder"].startswith("0x")
        assert "providerFee" not in answer["algorithm"]
    else:
        assert "algorithm" not in answer


def check_stop(job: dict[str, Any]) -> None:
    assert job["status_before_stop"]["status"] == 40, job["status_before_stop"]
    stop_answer = job["stop_response"]
    stopped = stop_answer[0] if isinstance(stop_answer, list) else stop_answer
    assert stopped["jobId"] == job["job_id"]
    final = job["final_status"]
    assert final["status"] == 70, final
    assert float(final["dateFinished"]) > 0
    # The sleeper sleeps 30 s; a stop must end it long before that.
    assert job["seconds_from_stop_to_finished"] < 15, job


# ---------------------------------------------------------------------------------- ocean.py


def test_oceanpy_environments_fileinfo_initialize(oceanpy: Run) -> None:
    oceanpy.check_no_errors("resolve", "assets", "environments", "free_environment", "fileinfo")
    oceanpy.check_no_errors("initialize_raw")
    assert oceanpy.report["version"] == "3.1.2"
    check_environments(oceanpy)
    check_initialize(oceanpy.report["initialize_response"], with_algorithm=True)


def test_oceanpy_published_algorithm(oceanpy: Run, assets: Assets) -> None:
    oceanpy.check_no_errors("published")
    job = oceanpy.report["published"]
    check_finished(job)
    assert job["final_status"]["ok"] is True
    # initializeCompute's validOrder became the transfer tx and the job's agreement.
    assert job["final_status"]["agreementId"] == job["transfer_tx_id"]
    expected = expected_summary(assets, CUSTOM_DATA)
    assert job["result"]["text"] == expected
    assert [item["text"] for item in job["logs_output"]] == [expected]
    [log] = job["logs_algorithmLog"]
    check_algorithm_log(log["text"], assets)


def test_oceanpy_raw_algorithm(oceanpy: Run, assets: Assets) -> None:
    assert oceanpy.report.get("dataset_allows_raw") is True
    oceanpy.check_no_errors("raw")
    job = oceanpy.report["raw"]
    check_finished(job)
    # ocean.py sends algocustomdata only with a published algorithm.
    assert job["result"]["text"] == expected_summary(assets, None)
    [log] = job["logs_algorithmLog"]
    check_algorithm_log(log["text"], assets)


def test_oceanpy_stop(oceanpy: Run) -> None:
    oceanpy.check_no_errors("stop")
    job = oceanpy.report["stop"]
    check_stop(job)
    assert job["final_status"]["ok"] is True
    [log] = job["logs_algorithmLog"]
    assert "compat-sleeper: started" in log["text"]
    assert "compat-sleeper: woke up" not in log["text"]


def test_oceanpy_refusals_read_as_in_ocean_py_tests(oceanpy: Run) -> None:
    """ocean.py's own tests match these codes in the DataProviderException it raises."""
    oceanpy.check_no_errors("resolve")
    refusals = oceanpy.report["refusals"]
    assert refusals["raw"]["refused"] is True, refusals
    assert refusals["raw"]["type"] == "DataProviderException"
    assert "no_raw_algo_allowed" in refusals["raw"]["message"]
    assert refusals["untrusted"]["refused"] is True, refusals
    assert refusals["untrusted"]["type"] == "DataProviderException"
    assert "not_trusted_algo" in refusals["untrusted"]["message"]


def test_oceanpy_whole_flow_clean(oceanpy: Run) -> None:
    oceanpy.check_no_errors()


# ---------------------------------------------------------------------------------- ocean.js


def test_oceanjs_environments_fileinfo(oceanjs: Run) -> None:
    oceanjs.check_no_errors("isValidProvider", "resolve", "environments", "fileinfo", "nonce")
    assert oceanjs.report["version"] == "3.4.6"
    assert oceanjs.report["valid_provider"] is True
    check_environments(oceanjs)
    assert isinstance(oceanjs.report["nonce"], (int, float))


def test_oceanjs_published_algorithm(oceanjs: Run, assets: Assets) -> None:
    oceanjs.check_no_errors("published")
    job = oceanjs.report["published"]
    check_initialize(job["initialize_response"], with_algorithm=True)
    check_finished(job)
    assert job["final_status"]["agreementId"] == job["transfer_tx_id"]
    assert job["result"]["text"] == expected_summary(assets, CUSTOM_DATA)
    [log] = job["logs_algorithmLog"]
    check_algorithm_log(log["text"], assets)


def test_oceanjs_raw_algorithm(oceanjs: Run, assets: Assets) -> None:
    oceanjs.check_no_errors("raw")
    job = oceanjs.report["raw"]
    check_initialize(job["initialize_response"], with_algorithm=False)
    check_finished(job)
    # ocean.js sends algocustomdata beside a raw algorithm's meta too.
    assert job["result"]["text"] == expected_summary(assets, CUSTOM_DATA)
    [log] = job["logs_algorithmLog"]
    check_algorithm_log(log["text"], assets)


def test_oceanjs_stop(oceanjs: Run) -> None:
    oceanjs.check_no_errors("stop")
    check_stop(oceanjs.report["stop"])


def test_oceanjs_refusals(oceanjs: Run) -> None:
    """ocean.js's computeStart returns null on a refusal and logs the provider's JSON error."""
    oceanjs.check_no_errors("resolve")
    refusals = oceanjs.report["refusals"]
    assert refusals["raw"]["refused"] is True, refusals
    assert '{"error":{"dataset":"no_raw_algo_allowed"}}' in refusals["raw"]["logged"]
    assert refusals["untrusted"]["refused"] is True, refusals
    assert '{"error":{"dataset":"not_trusted_algo"}}' in refusals["untrusted"]["logged"]


def test_oceanjs_status_by_owner(oceanjs: Run) -> None:
    oceanjs.check_no_errors("status_variants.owner_only")
    variants = oceanjs.report["status_variants"]
    assert oceanjs.report["published"]["job_id"] in variants["owner_only"]


def test_oceanjs_status_with_fourth_argument(oceanjs: Run) -> None:
    variants = oceanjs.report["status_variants"]
    job_id = oceanjs.report["published"]["job_id"]
    assert variants["job_and_dataset_did"] == [job_id]
    assert variants["job_and_order_id"] == [job_id]


def test_oceanjs_whole_flow_clean(oceanjs: Run) -> None:
    oceanjs.check_no_errors()


def test_oceanjs_download_file_names(oceanjs: Run) -> None:
    oceanjs.check_no_errors("published")
    results = oceanjs.report["published"]["results"]
    assert [r["downloaded_as"] for r in results] == [r["filename"] for r in results]


def test_oceanjs_stop_with_agreement_id(oceanjs: Run) -> None:
    oceanjs.check_no_errors("stop_with_agreement")
    job = oceanjs.report["stop_with_agreement"]
    assert job["stopped_job_ids"] == [job["job_id"]]
