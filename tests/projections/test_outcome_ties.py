"""Contradictory outcomes with one timestamp: the fold of the log and ClickHouse pick the same."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from domain.ingest import ingest
from domain.lifecycle import ExecutionStatus, uuid_order
from domain.log.ledger import Ledger
from projections.migrations import apply_migrations
from projections.queries import ExecutionQueries
from projections.replay import verify
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore
from tests.events import workflow_event

WORKSPACE = uuid.uuid4()


def _ids_ordered_differently() -> tuple[uuid.UUID, uuid.UUID]:
    """Two event ids whose Python order and ClickHouse order disagree."""
    high_only = uuid.UUID(int=1 << 64)  # low 64 bits 0: first for ClickHouse, last for Python
    low_only = uuid.UUID(int=2)
    assert high_only > low_only
    assert uuid_order(high_only) < uuid_order(low_only)
    return high_only, low_only


def test_tied_outcomes_are_broken_the_same_way_in_the_fold_and_the_projections(
    ledger: Ledger, clickhouse: Client
) -> None:
    apply_migrations(clickhouse)
    ex = str(uuid.uuid4())
    first, second = _ids_ordered_differently()
    rejected: dict[str, Any] = {**workflow_event("rejected", ex, 10), "id": str(first)}
    fulfilled: dict[str, Any] = {**workflow_event("fulfilled", ex, 10), "id": str(second)}
    events = [workflow_event("initiated", ex, 0), fulfilled, rejected]
    ingest(ledger, WORKSPACE, orjson.dumps(events), max_events=10, received_at=datetime.now(UTC))
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()

    view = ExecutionQueries(clickhouse).status(WORKSPACE, uuid.UUID(ex)).summary
    assert view is not None
    # The id ClickHouse sorts first wins: the rejection, though Python sorts its id last.
    assert view.status is ExecutionStatus.REJECTED
    assert view.has_conflicting_outcomes
    report = verify(ledger, clickhouse, lambda position, head: None)
    assert report.differences == []
