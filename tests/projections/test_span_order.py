"""`span_order`: one row per span, at the log position where the span was first seen.

The store derives the rows inside ClickHouse from the batch's `events` rows, keeping only spans
without a row yet; these pin what that must survive: spans split over batches applied by a store
with an empty cache (a restart), and a crash between a batch's events and its span_order rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from domain.batch import split_body, validate_batch
from domain.log.ledger import Ledger
from projections.migrations import apply_migrations
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore, SpanKey
from tests.events import execution

WORKSPACE = uuid.uuid4()
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
SpanRow = tuple[str, str, int]


class Crash(Exception):
    """Stands for the process dying."""


class CrashBeforeSpanOrder(ClickHouseStore):
    """Writes a batch's events, then dies before its span_order rows."""

    def _order_new_spans(self, spans: Iterable[SpanKey], first: int, last: int) -> None:
        raise Crash


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """Two executions interleaved event by event: every span's events sit 4 positions apart."""
    first, second = execution(node_count=4), execution(node_count=4)
    events = [event for pair in zip(first, second, strict=True) for event in pair]
    log = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    body = orjson.dumps(events)
    log.append(WORKSPACE, validate_batch(split_body(body, max_events=10_000)).envelopes, NOW)
    yield log
    log.close()


@pytest.fixture
def client(clickhouse: Client) -> Client:
    apply_migrations(clickhouse)
    return clickhouse


def _first_seen(ledger: Ledger) -> list[SpanRow]:
    seen: dict[tuple[str, str], int] = {}
    for event in ledger.read(after=0, limit=1000):
        span_id = orjson.loads(event.raw)["span_id"]
        seen.setdefault((str(event.execution_id), span_id), event.position)
    return sorted((execution_id, span_id, p) for (execution_id, span_id), p in seen.items())


def _rows(client: Client) -> list[SpanRow]:
    """Every stored row, unmerged duplicates included."""
    rows = client.query(
        "SELECT toString(execution_id), toString(span_id), first_position FROM span_order"
    ).result_rows
    return sorted((execution_id, span_id, p) for execution_id, span_id, p in rows)


def test_a_span_split_over_batches_keeps_its_first_position(ledger: Ledger, client: Client) -> None:
    # Each batch by a store with an empty cache, as after a restart between batches: the
    # second batch of a span must find the row its first batch wrote.
    position = 0
    while batch := ledger.read(after=position, limit=3):
        ClickHouseStore(client).apply(batch)
        position = batch[-1].position
    expected = _first_seen(ledger)
    assert _rows(client) == expected

    again = ClickHouseStore(client)
    position = 0
    while batch := ledger.read(after=position, limit=5):
        again.apply(batch)
        position = batch[-1].position
    assert _rows(client) == expected


def test_a_crash_before_span_order_rows_loses_and_repeats_none(
    ledger: Ledger, client: Client
) -> None:
    ProjectionRunner(ledger, ClickHouseStore(client), batch_size=5).run_once()
    with pytest.raises(Crash):
        ProjectionRunner(ledger, CrashBeforeSpanOrder(client), batch_size=8).run_once()
    # The crashed batch's events are in, past where the restart resumes with other boundaries.
    ProjectionRunner(ledger, ClickHouseStore(client), batch_size=3).catch_up()
    assert _rows(client) == _first_seen(ledger)
