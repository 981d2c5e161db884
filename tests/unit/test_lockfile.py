from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from specrunner.errors import LockfileError
from specrunner.lockfile import (
    Lock,
    LockedAlgorithm,
    LockedJob,
    dump_lock,
    exclusive,
    load_lock,
    save_lock,
)


def _job() -> LockedJob:
    return LockedJob(
        specDigest="sha256:" + "a" * 64,
        provider="http://127.0.0.1:8030",
        chainId=8996,
        environment="env",
        owner="0x" + "1" * 40,
        algorithm=LockedAlgorithm(digest="sha256:" + "b" * 64),
    )


def test_missing_lockfile_is_an_empty_lock(tmp_path: Path) -> None:
    lock = load_lock(tmp_path / "specrunner.lock.json")
    assert lock.jobs == {} and lock.serial == 0 and len(lock.lineage) == 32


def test_round_trip_is_canonical_and_bumps_serial(tmp_path: Path) -> None:
    path = tmp_path / "specrunner.lock.json"
    written = save_lock(path, Lock().with_job("b-job", _job()).with_job("a-job", _job()))
    text = path.read_text()
    assert text.endswith("}\n") and text == dump_lock(written).decode()
    assert list(json.loads(text)["jobs"]) == ["a-job", "b-job"]
    loaded = load_lock(path)
    assert loaded == written and loaded.serial == 1
    assert save_lock(path, loaded).serial == 2
    assert '  "jobs": {' in text  # two-space indent


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"version": 1, "jobs": {', "not valid JSON"),
        ('{"version": 99, "serial": 1, "lineage": "x", "jobs": {}}', "version 99"),
        ("[]", "must hold a JSON object"),
        ('{"version": 1, "serial": "x", "lineage": "x", "jobs": {}}', "$.serial"),
    ],
)
def test_bad_lockfile_is_an_error_and_left_untouched(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "specrunner.lock.json"
    path.write_text(content)
    with pytest.raises(LockfileError, match=message.replace("$", r"\$")) as caught:
        load_lock(path)
    assert str(path) in str(caught.value)
    assert path.read_text() == content


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "specrunner.lock.json"
    save_lock(path, Lock())
    before = path.read_text()

    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken)
    with pytest.raises(OSError, match="disk full"):
        save_lock(path, Lock().with_job("x", _job()))
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["specrunner.lock.json"]


HOLD_LOCK = """\
import sys, time
from pathlib import Path
from specrunner.lockfile import exclusive
with exclusive(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(30)
"""


def test_second_holder_waits_then_names_the_first(tmp_path: Path) -> None:
    path = tmp_path / "specrunner.lock.json"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLD_LOCK,
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        expected = f"pid {holder.pid}"
        with pytest.raises(LockfileError, match=expected), exclusive(path, timeout=0.5):
            pass
        assert time.monotonic() - started >= 0.5
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
    with exclusive(path, timeout=5):
        pass
