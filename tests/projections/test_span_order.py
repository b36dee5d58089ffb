"""The keyset order: each span at the log position where it was first seen, in `span_detail`.

A materialized view keys each inserted block's spans by the position their rows already have,
else by their lowest position in the block; these pin what that must survive: spans split over
batches, batches applied again with other boundaries, a crash between a batch's events and its
rows there, and a server's profile that squashes nothing and cuts inserts into small blocks.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from domain.batch import split_body, validate_batch
from domain.log.ledger import Ledger
from projections.migrations import apply_migrations
from projections.replay import verify
from projections.rows import EVENT_COLUMN_NAMES, event_block
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore
from tests.events import execution

WORKSPACE = uuid.uuid4()
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
SpanRow = tuple[str, str, int]


class Crash(Exception):
    """Stands for the process dying."""


class CrashBeforeTracking(ClickHouseStore):
    """Writes a batch's events, then dies before its tracking row."""

    def _track(self, position: int) -> None:
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
    """Each distinct (execution, span, position): a span's rows from several batches share one."""
    rows = client.query(
        "SELECT DISTINCT toString(execution_id), toString(span_id), span_position FROM span_detail"
    ).result_rows
    return sorted((execution_id, span_id, p) for execution_id, span_id, p in rows)


def test_a_span_split_over_batches_keeps_its_first_position(ledger: Ledger, client: Client) -> None:
    # The second batch of a span must find the row its first batch wrote.
    store = ClickHouseStore(client)
    position = 0
    while batch := ledger.read(after=position, limit=3):
        store.apply(batch)
        position = batch[-1].position
    expected = _first_seen(ledger)
    assert _rows(client) == expected

    position = 0
    while batch := ledger.read(after=position, limit=5):
        store.apply(batch)
        position = batch[-1].position
    assert _rows(client) == expected


def test_a_crash_before_a_batchs_span_detail_rows_loses_and_repeats_none(
    ledger: Ledger, client: Client
) -> None:
    ProjectionRunner(ledger, ClickHouseStore(client), batch_size=5).run_once()
    with pytest.raises(Crash):
        ProjectionRunner(ledger, CrashBeforeTracking(client), batch_size=8).run_once()
    # The process died after the crashed batch's events but before the view's rows for the
    # spans it first saw (an insert is not atomic across its views): take those rows back out.
    tracked = ClickHouseStore(client).position()
    client.command(
        "ALTER TABLE span_detail DELETE WHERE span_position > {p:UInt64} "
        "SETTINGS mutations_sync = 1",
        parameters={"p": tracked},
    )
    assert len(_rows(client)) < len(_first_seen(ledger))
    # The restart resumes after the tracked position, with other boundaries.
    ProjectionRunner(ledger, ClickHouseStore(client), batch_size=3).catch_up()
    assert _rows(client) == _first_seen(ledger)


def _blocks_seen_by_views_of(client: Client, table: str) -> Callable[[], list[int]]:
    """A view on `table` that records each block it is given; returns a reader of the sizes.

    The sizes come back in no particular order.
    """
    client.command(f"CREATE TABLE {table}_blocks (rows UInt64) ENGINE = Log")
    client.command(
        f"CREATE MATERIALIZED VIEW {table}_blocks_mv TO {table}_blocks "
        f"AS SELECT count() AS rows FROM {table}"
    )
    return lambda: [row[0] for row in client.query(f"SELECT rows FROM {table}_blocks").result_rows]


def test_a_batch_reaches_the_views_as_one_block_whatever_the_server_profile(
    ledger: Ledger, client: Client
) -> None:
    # The worst case for the span_detail view: a server's profile that squashes nothing (a block
    # is ready at 2 rows) and, with strict block limits, cuts every insert into blocks of 7 rows.
    client.set_client_setting("min_insert_block_size_rows", 2)
    client.set_client_setting("min_insert_block_size_bytes", 1)
    client.set_client_setting("max_insert_block_size", 7)
    client.set_client_setting("use_strict_insert_block_limits", 1)
    batch = ledger.read(after=0, limit=1000)
    half = len(batch) // 2
    assert half > 7
    assert len(batch) - half > 7

    event_blocks = _blocks_seen_by_views_of(client, "events")
    ClickHouseStore(client).apply(batch[:half])
    ClickHouseStore(client).apply(batch[half:])
    assert sorted(event_blocks()) == sorted([half, len(batch) - half])
    assert _rows(client) == _first_seen(ledger)

    # The profile holds: the same Native block inserted without the store's settings reaches a
    # table's views in blocks of 7 rows.
    client.command("CREATE TABLE probe AS events")
    probe_blocks = _blocks_seen_by_views_of(client, "probe")
    client.raw_insert("probe", EVENT_COLUMN_NAMES, insert_block=event_block(batch), fmt="Native")
    assert len(probe_blocks()) == -(-len(batch) // 7)


def test_verify_reports_each_execution_whose_spans_were_lost_or_moved(
    ledger: Ledger, client: Client
) -> None:
    ProjectionRunner(ledger, ClickHouseStore(client), batch_size=5).catch_up()
    assert verify(ledger, client, lambda position, head: None).differences == []
    spans = _first_seen(ledger)
    first, second = sorted({execution_id for execution_id, _, _ in spans})
    lost = next(span for ex, span, _ in spans if ex == first and span != ex)
    moved, position = next((span, p) for ex, span, p in spans if ex == second and span != ex)
    client.command(
        "ALTER TABLE span_detail DELETE WHERE span_id = {s:UUID} SETTINGS mutations_sync = 1",
        parameters={"s": lost},
    )
    client.command(
        "INSERT INTO span_detail (workspace_id, execution_id, span_position, span_id) "
        "VALUES ({w:UUID}, {e:UUID}, {p:UInt64}, {s:UUID})",
        parameters={"w": WORKSPACE, "e": second, "p": position + 1000, "s": moved},
    )
    differences = verify(ledger, client, lambda position, head: None).differences
    assert sorted(differences) == [
        f"execution {first} (workspace {WORKSPACE}): 4 spans in projections, 5 in the log"
        f" (1 missing, 0 not in the log; span {lost} among them)",
        f"execution {second} (workspace {WORKSPACE}): spans not at the keyset position where"
        f" the log first saw them: 1 (span {moved} among them)",
    ]


@pytest.mark.parametrize("damaged", [False, True], ids=["intact", "span-lost"])
def test_verify_leaves_out_what_the_projections_gained_after_its_head(
    tmp_path: Path, client: Client, damaged: bool
) -> None:
    # Verify folds the log up to the head it read first, while a live server goes on: here the
    # second node (a new span, with usage) and the workflow's end are appended and projected
    # after that head. Only the spans up to the head are still compared.
    events = execution(node_count=2)
    events[4]["body"]["usage_result"] = {"usage": [], "cost": [{"value": 0.5, "unit": "USD"}]}
    log = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})

    def append(batch: list[dict[str, object]]) -> None:
        body = orjson.dumps(batch)
        log.append(WORKSPACE, validate_batch(split_body(body, max_events=100)).envelopes, NOW)
        ProjectionRunner(log, ClickHouseStore(client)).catch_up()

    def meanwhile(position: int, head: int) -> None:
        if len(log.read(after=0, limit=100)) == 3:
            append(events[3:])
            if damaged:
                client.command(
                    "ALTER TABLE span_detail DELETE WHERE span_id = {s:UUID}"
                    " SETTINGS mutations_sync = 1",
                    parameters={"s": events[1]["span_id"]},
                )

    try:
        append(events[:3])  # the workflow's start and the first node
        report = verify(log, client, meanwhile)
        assert (report.executions_count, report.events_count) == (1, 3)
        if damaged:
            [difference] = report.differences
            assert "1 missing, 0 not in the log" in difference
        else:
            assert report.differences == []
    finally:
        log.close()
