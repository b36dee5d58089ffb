"""Handovers of the projections within a process: a replica that takes the writer lock and
cannot start writing gives it back; a wait survives a switch to a new generation."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime

import orjson
import pytest

from api import live as live_module
from api.live import LiveProjections
from api.locks import writer_lock
from api.settings import Settings
from domain.batch import split_body, validate_batch
from domain.log.ledger import Ledger
from projections.generations import Generations
from tests.events import execution


def test_a_replica_that_cannot_start_writing_gives_the_lock_back(
    sqlite_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env(sqlite_env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.log_env)
    leader = writer_lock(settings)
    assert leader is not None
    assert leader.try_acquire()  # another replica writes
    live = LiveProjections(settings, ledger, writer_lock(settings))
    try:
        assert not live.leading
        leader.release()  # ... until it dies, while ClickHouse is briefly unreachable

        def unreachable(*_: object, **__: object) -> None:
            raise ConnectionError("ClickHouse is unreachable")

        monkeypatch.setattr(live_module, "connect", unreachable)
        with pytest.raises(ConnectionError):
            live.follow_leadership()
        assert not live.leading
        assert leader.try_acquire(), "the lock was kept with no runner behind it"
        leader.release()

        monkeypatch.undo()  # ClickHouse is back: the watcher's next tick takes over
        live.follow_leadership()
        assert live.leading
        assert live.runner._thread is not None
    finally:
        live.close()
        ledger.close()


def test_a_wait_begun_before_a_generation_switch_is_answered_by_the_new_runner(
    sqlite_env: dict[str, str],
) -> None:
    settings = Settings.from_env(sqlite_env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.log_env)
    live = LiveProjections(settings, ledger, writer_lock(settings))
    try:
        assert live.leading
        envelopes = validate_batch(
            split_body(orjson.dumps(execution(node_count=2)), max_events=100)
        ).envelopes
        position = ledger.max_position() + len(envelopes)  # what the append below will answer
        waited: list[bool] = []
        waiter = threading.Thread(target=lambda: waited.append(live.wait_for(position, 10)))
        waiter.start()
        # A replay activates a new generation and this process follows it (as the watcher
        # does), then the events arrive: only the new generation's runner will see them.
        generations = Generations(settings.clickhouse_url, settings.clickhouse_database)
        try:
            generations.activate(generations.next_database())
        finally:
            generations.close()
        assert live.follow_pointer()
        started = time.monotonic()
        assert ledger.append(uuid.uuid4(), envelopes, datetime.now(UTC)).log_position == position
        live.runner.wake()
        waiter.join(15)
        assert waited == [True]
        assert time.monotonic() - started < 5
    finally:
        live.close()
        ledger.close()


def test_a_read_begun_before_a_generation_switch_finishes_on_its_clients(
    sqlite_env: dict[str, str],
) -> None:
    settings = Settings.from_env(sqlite_env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.log_env)
    live = LiveProjections(settings, ledger, writer_lock(settings))
    try:
        reader = live.reader  # as a verify (or a status read) in flight holds it
        generations = Generations(settings.clickhouse_url, settings.clickhouse_database)
        try:
            generations.activate(generations.next_database())
        finally:
            generations.close()
        assert live.follow_pointer()
        assert live.reader is not reader
        # The switch used to close the old clients at once: the read failed with a 500.
        assert reader.query("SELECT 1").result_rows == [(1,)]
    finally:
        live.close()
        ledger.close()
