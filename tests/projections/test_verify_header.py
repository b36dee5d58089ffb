"""`verify` checks the root span's header that `executions` folds: parent context and state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from domain.ingest import ingest
from domain.log.ledger import Ledger
from projections.migrations import apply_migrations
from projections.replay import verify
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore
from tests.events import execution, workflow_event

WORKSPACE = uuid.uuid4()


def _snapshot(execution_id: str, offset_ms: int, state: Any) -> dict[str, Any]:
    event = workflow_event("snapshotted", execution_id, offset_ms)
    event["body"] = {**event["body"], "state": state}
    return event


def test_verify_reports_a_header_that_differs_from_the_log(
    ledger: Ledger, clickhouse: Client
) -> None:
    apply_migrations(clickhouse)
    snapshotted, plain = execution(node_count=2), execution(node_count=1)
    ex = snapshotted[0]["span_id"]
    # Out of timestamp order in the log: the newest by timestamp is the one in the middle.
    snapshots = [
        _snapshot(ex, 3, {"step": 1}),
        _snapshot(ex, 9, {"step": 3, "floats": [1.0, 2.5]}),
        _snapshot(ex, 5, {"step": 2}),
    ]
    events = [*snapshotted[:-1], *snapshots, snapshotted[-1], *plain]
    ingest(ledger, WORKSPACE, orjson.dumps(events), max_events=100, received_at=datetime.now(UTC))
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()
    assert verify(ledger, clickhouse, lambda position, head: None).differences == []

    # A newer state and an earlier parent than the log holds, written past the view.
    clickhouse.command(
        "INSERT INTO executions (workspace_id, execution_id, first_position, initiated, snapshot)"
        " SELECT {w:UUID}, {e:UUID}, 1,"
        " argMinState(tuple('{\"forged\":true}', ''), toUInt64(0)),"
        " argMaxState(tuple('{\"step\":99}', {e:UUID}),"
        "  tuple(toDateTime64('2030-01-01 00:00:00', 6, 'UTC'), toUInt64(1)))",
        parameters={"w": WORKSPACE, "e": ex},
    )
    differences = verify(ledger, clickhouse, lambda position, head: None).differences
    name = f"execution {ex} (workspace {WORKSPACE})"
    assert sorted(differences) == [
        f"{name}: the newest state differs from the log's",
        f"{name}: the root's parent context differs from the log's",
    ]
