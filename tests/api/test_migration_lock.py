"""Processes starting together migrate one at a time: the second waits for the first."""

from __future__ import annotations

import threading
from dataclasses import replace

from api.live import LiveProjections
from api.locks import migration_lock
from api.settings import Settings
from domain.log.ledger import Ledger
from projections.clickhouse import connect
from projections.generations import Generations


def _tables(settings: Settings, database: str) -> set[str]:
    client = connect(settings.clickhouse_url, database)
    try:
        rows = client.query(
            "SELECT name FROM system.tables WHERE database = {d:String}",
            parameters={"d": database},
        ).result_rows
        return {row[0] for row in rows}
    finally:
        client.close()


def test_a_process_waits_for_another_one_migrating(log_env: dict[str, str], ledger: Ledger) -> None:
    settings = replace(Settings.from_env(log_env), projector="off")
    generations = Generations(settings.clickhouse_url, settings.clickhouse_database)
    database = generations.active()
    generations.close()
    # Another replica, as the lock sees it, is migrating this database.
    other = migration_lock(settings, database)
    assert other.try_acquire()
    started: list[LiveProjections] = []

    def start() -> None:
        started.append(LiveProjections(settings, ledger, None))

    thread = threading.Thread(target=start)
    thread.start()
    try:
        thread.join(1.0)
        assert not started
        assert "schema_migrations" not in _tables(settings, database)
    finally:
        other.release()
    thread.join(60)
    assert started, "the process never started after the other released the lock"
    try:
        assert {"schema_migrations", "events", "span_detail", "executions"} <= _tables(
            settings, database
        )
    finally:
        started[0].close()
