"""One writer per projection: the writer locks exclude each other and free up on release."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from projections.leader import FileWriterLock, PostgresWriterLock, holding


def test_a_file_lock_has_one_holder_at_a_time(tmp_path: Path) -> None:
    first, second = FileWriterLock(tmp_path / "w.lock"), FileWriterLock(tmp_path / "w.lock")
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    assert second.still_held()
    second.release()


@pytest.mark.postgres
def test_a_postgres_lock_has_one_holder_and_frees_when_its_session_dies(
    postgres_env: dict[str, str],
) -> None:
    first = PostgresWriterLock(postgres_env, "projector test")
    second = PostgresWriterLock(postgres_env, "projector test")
    other = PostgresWriterLock(postgres_env, "another projection")
    try:
        assert first.try_acquire()
        assert not second.try_acquire()
        assert other.try_acquire()
        # The holder's session is killed (a crash, a network cut): the lock frees at once.
        pid = first._connection.info.backend_pid  # type: ignore[union-attr]
        with psycopg.connect(
            dbname=postgres_env["POSTGRES_DBNAME"],
            host=postgres_env["POSTGRES_HOST"],
            user=postgres_env["POSTGRES_USER"],
            autocommit=True,
        ) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert not first.still_held()
        assert second.try_acquire()
    finally:
        for lock in (first, second, other):
            lock.release()


def test_holding_waits_for_the_other_holder_then_releases(tmp_path: Path) -> None:
    other, mine = FileWriterLock(tmp_path / "m.lock"), FileWriterLock(tmp_path / "m.lock")
    assert other.try_acquire()
    entered = threading.Event()

    def migrate() -> None:
        with holding(mine, "a test", poll_seconds=0.01):
            entered.set()

    thread = threading.Thread(target=migrate)
    thread.start()
    assert not entered.wait(0.3)  # the other process still holds it
    other.release()
    assert entered.wait(10)
    thread.join(10)
    assert other.try_acquire()  # released after the block
    other.release()


@pytest.mark.postgres
def test_the_lock_session_asks_the_server_to_notice_a_dead_holder(
    postgres_env: dict[str, str],
) -> None:
    lock = PostgresWriterLock(postgres_env, "keepalive test")
    try:
        assert lock.try_acquire()
        connection = lock._connection
        assert connection is not None
        shown = {
            name: connection.execute(f"SHOW {name}").fetchone()
            for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count")
        }
        assert {name: row[0] if row else None for name, row in shown.items()} == {
            "tcp_keepalives_idle": "5",
            "tcp_keepalives_interval": "2",
            "tcp_keepalives_count": "3",
        }
    finally:
        lock.release()
