"""ClickHouse for the projection tests: chDB (one engine path per process), a database per test.

Set RUNLEDGER_TEST_CLICKHOUSE_URL to an http(s):// server to run the same tests against it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from projections.clickhouse import connect


@pytest.fixture(scope="session")
def clickhouse_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    server = os.environ.get("RUNLEDGER_TEST_CLICKHOUSE_URL")
    if server:
        return server
    path: Path = tmp_path_factory.mktemp("chdb")
    return f"chdb://{path}"


@pytest.fixture
def clickhouse(clickhouse_url: str) -> Iterator[Client]:
    """A client on a fresh database, dropped afterwards."""
    database = f"rl_test_{uuid.uuid4().hex[:12]}"
    client = connect(clickhouse_url, database)
    yield client
    client.command(
        "DROP DATABASE IF EXISTS {database:Identifier}", parameters={"database": database}
    )
    client.close()
