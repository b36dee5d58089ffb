"""A runner that stopped (its replica lost the writer lock) still answers `wait_for` from the
tracking row of the writer that took over, as a runner that never started does."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import orjson
from clickhouse_connect.driver.client import Client

from domain.batch import split_body, validate_batch
from domain.log.ledger import Ledger
from projections.migrations import apply_migrations
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore
from tests.events import execution

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
WORKSPACE = uuid.uuid4()


def _append(ledger: Ledger) -> int:
    body = orjson.dumps(execution(node_count=2))
    envelopes = validate_batch(split_body(body, max_events=100)).envelopes
    return ledger.append(WORKSPACE, envelopes, NOW).log_position


def test_a_stopped_runner_waits_on_the_new_writers_tracking(
    clickhouse: Client, tmp_path: Path
) -> None:
    ledger = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    apply_migrations(clickhouse)
    ours = ProjectionRunner(ledger, ClickHouseStore(clickhouse), idle_seconds=0.05)
    ours.start()
    assert ours.wait_for(_append(ledger), timeout=10)
    ours.stop()  # the writer lock went to another replica

    position = _append(ledger)
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()  # the new writer
    started = time.monotonic()
    assert ours.wait_for(position, timeout=10)
    assert time.monotonic() - started < 5  # read from tracking, not the whole wait
    assert ours.visible_position >= position
    ledger.close()
