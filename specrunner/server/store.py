"""SQLite persistence of the embedded provider: assets, orders, nonces and jobs.

Everything survives a restart. One connection is shared by the request handlers and the
engine's workers behind a lock: every statement is short, and WAL mode lets readers of
other processes (tests, a second provider on the same folder) see committed state.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from specrunner.errors import SpecRunnerError

# The schema's version, kept in SQLite's `user_version`. A change to the tables bumps it and
# adds the step from the previous version to MIGRATIONS, so an existing provider.db is
# brought forward on open instead of failing on a missing column.
SCHEMA_VERSION = 1
MIGRATIONS: dict[int, str] = {
    # N: "SQL that turns a version N database into version N + 1",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    did TEXT PRIMARY KEY,
    publisher TEXT NOT NULL,
    ddo TEXT NOT NULL,
    files TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS nonces (
    address TEXT PRIMARY KEY,
    nonce TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    consumer TEXT NOT NULL,
    did TEXT NOT NULL,
    service_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL
);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    agreement_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    status INTEGER NOT NULL,
    status_text TEXT NOT NULL,
    date_created REAL NOT NULL,
    date_finished REAL,
    stopreq INTEGER NOT NULL DEFAULT 0,
    removed INTEGER NOT NULL DEFAULT 0,
    algo_did TEXT NOT NULL DEFAULT '',
    input_dids TEXT NOT NULL,
    results TEXT NOT NULL DEFAULT '[]',
    termination TEXT,
    workflow TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner_key);
CREATE INDEX IF NOT EXISTS jobs_agreement ON jobs(agreement_id);
"""


@dataclass(frozen=True)
class StoredFile:
    """A published file, stored content-addressed under the data folder."""

    filename: str
    sha256: str
    size: int
    content_type: str


@dataclass(frozen=True)
class Asset:
    did: str
    publisher: str
    ddo: dict[str, Any]
    files: list[StoredFile]


@dataclass(frozen=True)
class Order:
    """An order issued by initializeCompute: our stand-in for an on-chain startOrder."""

    order_id: str
    consumer: str
    did: str
    service_id: str
    environment: str
    created: float
    expires: float | None


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    owner: str
    agreement_id: str
    environment: str
    status: int
    status_text: str
    date_created: float
    workflow: dict[str, Any]
    input_dids: list[str]
    algo_did: str = ""
    date_finished: float | None = None
    stopreq: int = 0
    removed: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    termination: dict[str, Any] | None = None


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Create the tables of a new database, or bring an older one to SCHEMA_VERSION, in one
    transaction. A database from a newer specrunner is refused, untouched."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        db.close()
        raise SpecRunnerError(
            f"{path} was written by a newer specrunner (store schema {version}; this one "
            f"knows up to {SCHEMA_VERSION}): upgrade specrunner, or use another data folder"
        )
    if version == SCHEMA_VERSION:
        return
    known = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'jobs'")
    # Version 0 with tables: a store from before versioning, whose tables are version 1's.
    start = 1 if version == 0 and known.fetchone() is not None else version
    steps = ["BEGIN IMMEDIATE"]
    if start == 0:
        steps.append(SCHEMA)
    else:
        steps += [MIGRATIONS[n] for n in range(start, SCHEMA_VERSION)]
    steps.append(f"PRAGMA user_version = {SCHEMA_VERSION}")
    try:
        db.executescript("".join(f"{step.strip().rstrip(';')};\n" for step in steps) + "COMMIT;")
    except sqlite3.Error:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


class Store:
    """Thread-safe access to the provider's SQLite database."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # A crash may lose the last transaction, never corrupt the file; that is enough
        # for a provider whose clients retry and reconcile.
        self._db.execute("PRAGMA synchronous=NORMAL")
        migrate(self._db, path)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Assets

    def put_asset(self, asset: Asset, created: float) -> None:
        files = json.dumps([asdict(f) for f in asset.files])
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO assets (did, publisher, ddo, files, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (asset.did, asset.publisher, json.dumps(asset.ddo), files, created),
            )

    def get_asset(self, did: str) -> Asset | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM assets WHERE did = ?", (did,)).fetchone()
        if row is None:
            return None
        files = [StoredFile(**item) for item in json.loads(row["files"])]
        return Asset(row["did"], row["publisher"], json.loads(row["ddo"]), files)

    # Nonces (reference §3.3): per address, shared by every signed endpoint.

    def get_nonce(self, address: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT nonce FROM nonces WHERE address = ?", (address.lower(),)
            ).fetchone()
        return None if row is None else str(row["nonce"])

    def use_nonce(self, address: str, nonce: str, floor: Decimal) -> str | None:
        """Record `nonce` if it is greater than the stored one (or `floor` when none).

        Returns None on success, else the stored nonce that it failed to exceed. The
        check and the write happen under one lock, so a nonce is never accepted twice.
        """
        try:
            wanted = Decimal(nonce)
        except InvalidOperation:
            return str(floor)
        key = address.lower()
        with self._lock:
            row = self._db.execute("SELECT nonce FROM nonces WHERE address = ?", (key,)).fetchone()
            current = Decimal(row["nonce"]) if row is not None else floor
            if wanted <= current:
                return str(row["nonce"]) if row is not None else str(floor)
            self._db.execute(
                "INSERT OR REPLACE INTO nonces (address, nonce) VALUES (?, ?)", (key, nonce)
            )
        return None

    # Orders

    def add_order(self, order: Order) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    order.order_id,
                    order.consumer.lower(),
                    order.did,
                    order.service_id,
                    order.environment,
                    order.created,
                    order.expires,
                ),
            )

    def get_order(self, order_id: str) -> Order | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM orders WHERE order_id = ?", (order_id.lower(),)
            ).fetchone()
        return None if row is None else Order(**dict(row))

    # Jobs

    def insert_job(self, job: JobRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (job_id, owner, owner_key, agreement_id, environment, status,"
                " status_text, date_created, date_finished, stopreq, removed, algo_did,"
                " input_dids, results, termination, workflow)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.job_id,
                    job.owner,
                    job.owner.lower(),
                    job.agreement_id.lower(),
                    job.environment,
                    job.status,
                    job.status_text,
                    job.date_created,
                    job.date_finished,
                    job.stopreq,
                    job.removed,
                    job.algo_did,
                    json.dumps(job.input_dids),
                    json.dumps(job.results),
                    None if job.termination is None else json.dumps(job.termination),
                    json.dumps(job.workflow),
                ),
            )

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else _job_from_row(row)

    def list_jobs(
        self,
        owner: str,
        job_id: str | None = None,
    ) -> list[JobRecord]:
        """The owner's jobs, oldest first; only the one with `job_id` when given."""
        sql = "SELECT * FROM jobs WHERE owner_key = ?"
        args: list[Any] = [owner.lower()]
        if job_id:
            sql += " AND job_id = ?"
            args.append(job_id)
        sql += " ORDER BY date_created, job_id"
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_job_from_row(row) for row in rows]

    def unfinished_jobs(self) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE date_finished IS NULL ORDER BY date_created"
            ).fetchall()
        return [_job_from_row(row) for row in rows]

    def agreement_in_use(self, agreement_id: str) -> bool:
        """True when an unfinished job already runs on this order (reference §8.4)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM jobs WHERE agreement_id = ? AND date_finished IS NULL",
                (agreement_id.lower(),),
            ).fetchone()
        return row is not None

    def count_running(self, environment: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM jobs WHERE environment = ? AND date_finished IS NULL",
                (environment,),
            ).fetchone()
        return int(row[0])

    def update_job(self, job: JobRecord, **changes: Any) -> JobRecord:
        """Write only the given fields of a job and return the updated record.

        Only named fields are written, so the engine's status updates never undo a stop
        request that a handler recorded meanwhile.
        """
        updated = replace(job, **changes)
        encoders: dict[str, Callable[[Any], Any]] = {
            "results": json.dumps,
            "termination": _json_or_none,
        }
        columns = {name: encoders.get(name, _same)(value) for name, value in changes.items()}
        if not columns.keys() <= _UPDATABLE:
            raise ValueError(f"not updatable: {sorted(columns.keys() - _UPDATABLE)}")
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._lock:
            self._db.execute(
                f"UPDATE jobs SET {assignments} WHERE job_id = ?",  # noqa: S608 - fixed names
                (*columns.values(), job.job_id),
            )
        return updated


_UPDATABLE = {
    "status",
    "status_text",
    "date_finished",
    "stopreq",
    "removed",
    "results",
    "termination",
}


def _same(value: Any) -> Any:
    return value


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _job_from_row(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        job_id=row["job_id"],
        owner=row["owner"],
        agreement_id=row["agreement_id"],
        environment=row["environment"],
        status=row["status"],
        status_text=row["status_text"],
        date_created=row["date_created"],
        date_finished=row["date_finished"],
        stopreq=row["stopreq"],
        removed=row["removed"],
        algo_did=row["algo_did"],
        input_dids=json.loads(row["input_dids"]),
        results=json.loads(row["results"]),
        termination=None if row["termination"] is None else json.loads(row["termination"]),
        workflow=json.loads(row["workflow"]),
    )
