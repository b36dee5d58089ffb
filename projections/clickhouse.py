"""Every ClickHouse access goes through clickhouse-connect: chDB embedded or a server, one API.

`RUNLEDGER_CLICKHOUSE_URL` is `chdb:///path` (an in-process engine over a data folder) or
`http(s)://user:password@host:port/database`. The same SQL files serve both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

# The SQL lives beside the packages, at the top of the checkout (DESIGN.md §1: clickhouse/).
SQL_ROOT = Path(__file__).resolve().parent.parent / "clickhouse"


def connect(url: str, database: str, **settings: Any) -> Client:
    """A client on `database` at the URL, creating the database if it does not exist.

    chDB allows one engine path per process: every client of a process uses the same path.
    """
    options: dict[str, Any] = {}
    if url.startswith("chdb://"):
        Path(url.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    else:
        # A client serves every thread of its reader (status, detail, the runtime's reads).
        # Over HTTP, a client with a session refuses a query while another of the session
        # runs; nothing here keeps state in a session, so its clients have none and run
        # queries side by side (chDB queues them on its handle instead).
        options["autogenerate_session_id"] = False
    bootstrap = clickhouse_connect.get_client(dsn=url, **options)
    try:
        bootstrap.command(
            "CREATE DATABASE IF NOT EXISTS {database:Identifier}",
            parameters={"database": database},
        )
    finally:
        bootstrap.close()
    return clickhouse_connect.get_client(
        dsn=url, database=database, settings=settings or None, **options
    )


def split_statements(sql: str) -> list[str]:
    """The statements of a .sql file: separated by `;` at a line end; `--` comments dropped."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    statements = (
        chunk.strip().removesuffix(";").strip() for chunk in "\n".join(lines).split(";\n")
    )
    return [statement for statement in statements if statement]


def query_text(name: str) -> str:
    """A named read query from clickhouse/queries/NAME.sql."""
    return (SQL_ROOT / "queries" / f"{name}.sql").read_text()
