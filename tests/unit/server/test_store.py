"""The provider's SQLite store carries a schema version and is migrated forward on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from specrunner.errors import SpecRunnerError
from specrunner.server import store
from specrunner.server.store import SCHEMA, SCHEMA_VERSION, JobRecord, Store

JOB = JobRecord(
    job_id="j1",
    owner="0xOwner",
    agreement_id="a1",
    environment="env",
    status=70,
    status_text="Job finished",
    date_created=1.0,
    workflow={"algorithm": {}},
    input_dids=["did:op:x"],
)


def _version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def test_a_new_store_is_stamped_with_the_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "provider.db"
    Store(path).close()
    assert _version(path) == SCHEMA_VERSION


def test_a_store_from_before_versioning_keeps_its_jobs(tmp_path: Path) -> None:
    path = tmp_path / "provider.db"
    old = Store(path)
    old.insert_job(JOB)
    old.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 0")  # what every earlier release left
    reopened = Store(path)
    found = reopened.get_job("j1")
    reopened.close()
    assert found is not None and found.status == 70
    assert _version(path) == SCHEMA_VERSION


def test_a_migration_step_runs_once_and_keeps_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "provider.db"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute("INSERT INTO nonces (address, nonce) VALUES ('0xa', '7')")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    monkeypatch.setattr(store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(store.MIGRATIONS, SCHEMA_VERSION, "ALTER TABLE nonces ADD COLUMN seen REAL")
    Store(path).close()
    Store(path).close()  # a second open must not run the step again
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(nonces)")]
        assert db.execute("SELECT nonce FROM nonces WHERE address = '0xa'").fetchone() == ("7",)
    assert columns.count("seen") == 1
    assert _version(path) == SCHEMA_VERSION + 1


def test_a_failed_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "provider.db"
    Store(path).close()
    monkeypatch.setattr(store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(
        store.MIGRATIONS,
        SCHEMA_VERSION,
        "ALTER TABLE nonces ADD COLUMN seen REAL; ALTER TABLE no_such_table ADD COLUMN x",
    )
    with pytest.raises(sqlite3.OperationalError):
        Store(path)
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(nonces)")]
    assert "seen" not in columns
    assert _version(path) == SCHEMA_VERSION


def test_a_store_from_a_newer_specrunner_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "provider.db"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    before = path.read_bytes()
    with pytest.raises(SpecRunnerError, match="written by a newer specrunner"):
        Store(path)
    assert path.read_bytes() == before
