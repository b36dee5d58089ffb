"""The `events` rows the store writes: every column as the log's events say, through the Native
block that projections/rows.py encodes by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from domain.batch import split_body, validate_batch
from domain.log import LoggedEvent
from domain.log.ledger import Ledger
from projections.migrations import apply_migrations
from projections.rows import EVENT_COLUMN_NAMES, event_block
from projections.store import ClickHouseStore
from tests.events import execution

WORKSPACE = uuid.uuid4()
RECEIVED = datetime(2026, 12, 3, 16, 30, 1, 999_999, tzinfo=UTC)


def test_every_column_reads_back_as_the_logged_event_says(
    tmp_path: Path, clickhouse: Client
) -> None:
    events = execution(node_count=2)
    # A zone other than UTC, microseconds, and one before the epoch.
    events[1]["timestamp"] = "2026-11-23T14:00:00.123456+02:00"
    events[2]["timestamp"] = "1969-12-31T23:59:59.999999Z"
    # Payload lengths that take two bytes of LEB128 (every event's) and three (in UTF-8 beyond
    # ASCII); names take one.
    events[4]["body"]["outputs"] = {"answer": "ü" * 70_000}
    # A root event may carry no parent at all.
    events[-1]["parent"] = None
    log = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    log.append(
        WORKSPACE,
        validate_batch(split_body(orjson.dumps(events), max_events=100)).envelopes,
        RECEIVED,
    )
    apply_migrations(clickhouse)
    logged = log.read(after=0, limit=100)
    # Every event whole in `events` (no value set aside: tests/projections/test_payloads.py).
    ClickHouseStore(clickhouse, inline_limit=1 << 20).apply(logged)

    result = clickhouse.query(
        f"SELECT {', '.join(EVENT_COLUMN_NAMES)} FROM events ORDER BY position",
        column_formats={"payload": "bytes"},
        tz_mode="aware",
    )
    rows = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    assert [row["payload"] for row in rows] == [event.raw for event in logged]
    assert len(rows) == len(events)
    for row, event, sent in zip(rows, logged, events, strict=True):
        parent = sent["parent"] or {"type": None}
        assert row == {
            "workspace_id": WORKSPACE,
            "execution_id": uuid.UUID(events[0]["span_id"]),
            "span_id": uuid.UUID(sent["span_id"]),
            "position": event.position,
            "event_id": uuid.UUID(sent["id"]),
            "name": sent["name"],
            "parent_span_id": uuid.UUID(parent["span_id"])
            if parent["type"] in ("WORKFLOW", "WORKFLOW_NODE")
            else None,
            "trace_id": uuid.UUID(sent["trace_id"]),
            "timestamp": datetime.fromisoformat(sent["timestamp"]).astimezone(UTC),
            "received_at": RECEIVED,
            "payload": event.raw,
        }
    assert rows[1]["timestamp"] == datetime(2026, 11, 23, 12, 0, 0, 123_456, tzinfo=UTC)
    # The root's parent is an EXTERNAL context, not a span of the trace; the nodes' the root.
    assert rows[0]["parent_span_id"] is None
    assert rows[-1]["parent_span_id"] is None
    assert rows[1]["parent_span_id"] == uuid.UUID(events[0]["span_id"])
    log.close()


def test_an_id_that_is_not_a_canonical_uuid_stops_the_block_instead_of_shifting_rows() -> None:
    # Ingest refuses such ids (domain/envelope.py); a log written otherwise must not be
    # projected with every later id in a wrong row.
    good = execution(node_count=1)[0]
    bad = {**good, "id": str(uuid.uuid4()), "span_id": "0123"}
    events = [
        LoggedEvent(n, WORKSPACE, uuid.UUID(good["span_id"]), good["name"], RECEIVED, raw)
        for n, raw in enumerate((orjson.dumps(bad), orjson.dumps(good)), start=1)
    ]
    with pytest.raises(ValueError, match="not a canonical UUID"):
        event_block(events)
