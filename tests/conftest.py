"""Shared fixtures: log backends (SQLite always, PostgreSQL when reachable), servers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from api.settings import Settings
from domain.log.ledger import Ledger
from projections.clickhouse import connect
from tests.servers import RunningServer, server_in_thread

PG = {
    "host": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
    "port": os.environ.get("POSTGRES_PORT", "5432"),
    "user": os.environ.get("POSTGRES_USER", "postgres"),
    "password": os.environ.get("POSTGRES_PASSWORD", ""),
}
PG_TEST_DATABASE = os.environ.get("RUNLEDGER_TEST_POSTGRES_DBNAME", "runledger_test")


def pg_connect(dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the test server, for creating and dropping databases."""
    return psycopg.connect(
        dbname=dbname,
        host=PG["host"],
        port=PG["port"],
        user=PG["user"],
        password=PG["password"],
        autocommit=True,
        connect_timeout=3,
    )


def postgres_reason() -> str | None:
    """None when the test database is reachable (creating it if needed), else why not."""
    try:
        with pg_connect("postgres") as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (PG_TEST_DATABASE,)
            ).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(PG_TEST_DATABASE)))
    except psycopg.Error as error:
        return f"PostgreSQL at {PG['host']}:{PG['port']} is not reachable: {error}".strip()
    return None


@pytest.fixture(scope="session")
def postgres_ready() -> None:
    reason = postgres_reason()
    if reason is None:
        return
    if os.environ.get("RUNLEDGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"RUNLEDGER_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(f"{reason}; start it (see README) or these PostgreSQL tests stay skipped")


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One chDB engine path for the whole test process (chDB allows one per process).

    Set RUNLEDGER_TEST_CLICKHOUSE_URL to an http(s):// server to run against it instead.
    """
    server = os.environ.get("RUNLEDGER_TEST_CLICKHOUSE_URL")
    if server:
        return server
    return f"chdb://{tmp_path_factory.mktemp('chdb')}"


@contextmanager
def fresh_clickhouse_env(clickhouse_url: str) -> Iterator[dict[str, str]]:
    """A ClickHouse database of its own on the shared engine, dropped afterwards with every
    generation of it (`<base>_g<N>`). Each test leaving its databases behind made every later
    one slower to create: with ~900 left, a test's setup took 8-10 s instead of one."""
    base = f"rl_test_{uuid.uuid4().hex[:12]}"
    yield {"RUNLEDGER_CLICKHOUSE_URL": clickhouse_url, "RUNLEDGER_CLICKHOUSE_DATABASE": base}
    drop_databases(clickhouse_url, base)


def drop_databases(clickhouse_url: str, base: str) -> None:
    """Drop the database `base` and its generations."""
    client = connect(clickhouse_url, "default")
    try:
        names = client.query(
            "SELECT name FROM system.databases WHERE name = {base:String} "
            "OR startsWith(name, {prefix:String})",
            parameters={"base": base, "prefix": f"{base}_g"},
        ).result_rows
        for (name,) in names:
            client.command("DROP DATABASE IF EXISTS {d:Identifier} SYNC", parameters={"d": name})
    finally:
        client.close()


@contextmanager
def postgres_log(clickhouse_env: dict[str, str], data_dir: Path) -> Iterator[dict[str, str]]:
    """Env for a PostgreSQL log in a schema of its own, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_connect(PG_TEST_DATABASE) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield {
        **clickhouse_env,
        # A server leaves its admin token and address in the data folder: never the checkout's.
        "RUNLEDGER_DATA_DIR": str(data_dir),
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": PG_TEST_DATABASE,
        "POSTGRES_HOST": PG["host"],
        "POSTGRES_PORT": PG["port"],
        "POSTGRES_USER": PG["user"],
        "POSTGRES_PASSWORD": PG["password"],
        "POSTGRES_SCHEMA": schema,
    }
    with pg_connect(PG_TEST_DATABASE) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def clickhouse_env(clickhouse_url: str) -> Iterator[dict[str, str]]:
    """A ClickHouse database of this test's own on the shared engine, dropped afterwards."""
    with fresh_clickhouse_env(clickhouse_url) as env:
        yield env


@pytest.fixture
def postgres_env(
    postgres_ready: None, clickhouse_env: dict[str, str], tmp_path: Path
) -> Iterator[dict[str, str]]:
    """Env for a PostgreSQL log in a schema of its own, dropped afterwards."""
    with postgres_log(clickhouse_env, tmp_path / "data") as env:
        yield env


@pytest.fixture
def sqlite_env(tmp_path: Path, clickhouse_env: dict[str, str]) -> dict[str, str]:
    """Env for the embedded default: a SQLite log in a fresh data folder."""
    return {**clickhouse_env, "RUNLEDGER_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """Each log backend in turn: the contract suites run against both."""
    env: dict[str, str] = request.getfixturevalue(f"{request.param}_env")
    return env


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_log_env(
    request: pytest.FixtureRequest, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """Each log backend in turn, for a module whose tests share one server and its data."""
    data_dir = tmp_path_factory.mktemp("data")
    if request.param == "postgres":
        request.getfixturevalue("postgres_ready")
    with fresh_clickhouse_env(clickhouse_url) as clickhouse_env:
        if request.param == "sqlite":
            yield {**clickhouse_env, "RUNLEDGER_DATA_DIR": str(data_dir)}
            return
        with postgres_log(clickhouse_env, data_dir) as env:
            yield env


@pytest.fixture
def ledger(log_env: dict[str, str]) -> Iterator[Ledger]:
    settings = Settings.from_env(log_env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.log_env)
    yield ledger
    ledger.close()


@pytest.fixture
def server(log_env: dict[str, str]) -> Iterator[RunningServer]:
    """A real server over HTTP on each log backend."""
    with server_in_thread(log_env) as running:
        yield running


@pytest.fixture
def sqlite_server(sqlite_env: dict[str, str]) -> Iterator[RunningServer]:
    """A real server on the embedded default only."""
    with server_in_thread(sqlite_env) as running:
        yield running
