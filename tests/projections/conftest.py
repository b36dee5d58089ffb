"""A ClickHouse client on a fresh database per test (engine: tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from projections.clickhouse import connect


@pytest.fixture
def clickhouse(clickhouse_url: str) -> Iterator[Client]:
    """A client on a fresh database, dropped afterwards."""
    database = f"rl_test_{uuid.uuid4().hex[:12]}"
    client = connect(clickhouse_url, database)
    yield client
    client.command(
        "DROP DATABASE IF EXISTS {database:Identifier} SYNC", parameters={"database": database}
    )
    client.close()
