"""Fresh, empty logs for each measurement, so no measurement sees another one's rows.

A measurement gets the environment `runledger serve` would be started with; the in-process
measurements derive the log's settings from it through `Settings.from_env`, so the raw
append and the server run with the same eventsourcing configuration (pool sizes included).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from api.settings import Settings
from domain.log.ledger import POSTGRES_MODULE, SQLITE_MODULE, Ledger

SQLITE = "sqlite"
POSTGRES = "postgres"
BACKENDS = (SQLITE, POSTGRES)

Env = dict[str, str]


@dataclass(frozen=True)
class Postgres:
    """Where the PostgreSQL measurements run: a database of the benchmark's own."""

    host: str = "127.0.0.1"
    port: str = "5432"
    user: str = "postgres"
    password: str = ""
    dbname: str = "runledger_bench"

    def connect(self, dbname: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit admin connection (creating databases cannot run in a transaction)."""
        return psycopg.connect(
            dbname=dbname or self.dbname,
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            autocommit=True,
            connect_timeout=5,
        )

    def ensure_database(self) -> None:
        """Create the benchmark's database if it is missing."""
        with self.connect("postgres") as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.dbname,)
            ).fetchone()
            if not found:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))

    def log_env(self, schema: str) -> Env:
        """eventsourcing's variables for a log in `schema`."""
        return {
            "PERSISTENCE_MODULE": POSTGRES_MODULE,
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": self.port,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": schema,
        }

    def settings(self) -> dict[str, str]:
        """The server version and the settings that bound commit latency."""
        names = [
            "server_version",
            "fsync",
            "synchronous_commit",
            "wal_sync_method",
            "full_page_writes",
            "shared_buffers",
            "commit_delay",
        ]
        with self.connect() as conn:
            return {name: str(_show(conn, name)) for name in names}


def _show(conn: psycopg.Connection[tuple[object, ...]], name: str) -> object:
    row = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
    return row[0] if row else None


@contextmanager
def fresh_store(backend: str, label: str, postgres: Postgres) -> Iterator[Env]:
    """The server environment of a new, empty log; removed afterwards."""
    # The temporary folder holds the server's data folder (and the SQLite file); it is on the
    # same disk as PostgreSQL's data here, so both pay the same fsync.
    workdir = Path(tempfile.mkdtemp(prefix=f"runledger-bench-{label}-"))
    try:
        env: Env = {"RUNLEDGER_DATA_DIR": str(workdir / "data")}
        if backend == SQLITE:
            env |= {
                "PERSISTENCE_MODULE": SQLITE_MODULE,
                "SQLITE_DBNAME": str(workdir / "data" / "log.sqlite"),
            }
            yield env
        else:
            schema = f"bench_{label}_{uuid.uuid4().hex[:8]}"
            with postgres.connect() as conn:
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
            try:
                yield env | postgres.log_env(schema)
            finally:
                with postgres.connect() as conn:
                    conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def open_log(env: Env) -> Ledger:
    """The log a server started with `env` would open."""
    settings = Settings.from_env(env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Ledger(settings.log_env)


def sqlite_settings(env: Env) -> dict[str, str]:
    """The journal mode and synchronous level of the log's own SQLite connection."""
    ledger = open_log(env)
    try:
        datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
        with datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            level = cursor.fetchone()[0]
        # PRAGMA synchronous answers a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        return {"journal_mode": str(journal), "synchronous": names.get(level, str(level))}
    finally:
        ledger.close()
