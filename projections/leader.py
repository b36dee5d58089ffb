"""One active writer per projection: whoever holds the lock runs the projection runner.

With a PostgreSQL log the lock is a session advisory lock, so replicas and `runledger
project` processes on any host agree, and a writer that dies (or loses its connection) frees
the lock at once. With the embedded SQLite log every writer is on this host: a file lock.
The same locks, waited for with `holding`, make processes take turns at their migrations.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

import psycopg
import psycopg.conninfo

log = logging.getLogger("runledger.projections")


class WriterLock(Protocol):
    """A lock held for as long as this process may write a projection.

    >>> if lock.try_acquire(): runner.start()          # doctest: +SKIP
    >>> if not lock.still_held(): runner.stop()         # doctest: +SKIP
    """

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


@contextmanager
def holding(
    lock: WriterLock, what: str, poll_seconds: float = 0.1, report_seconds: float = 30.0
) -> Iterator[None]:
    """Wait as long as it takes for `lock`, hold it for the block, then release it.

    No timeout: the holder is another process doing the same work (a migration can take
    minutes), and a holder that dies frees the lock, so waiting ends either way.
    """
    started = reported = time.monotonic()
    while not lock.try_acquire():
        if time.monotonic() - reported >= report_seconds:
            reported = time.monotonic()
            log.info(
                "waiting for another process", extra={"for": what, "seconds": reported - started}
            )
        time.sleep(poll_seconds)
    try:
        yield
    finally:
        lock.release()


def _lock_key(name: str) -> int:
    # pg advisory locks take a signed 64-bit key.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresWriterLock:
    """A session advisory lock on a connection of its own."""

    def __init__(self, log_env: Mapping[str, str], name: str) -> None:
        self._conninfo = psycopg.conninfo.make_conninfo(
            dbname=log_env["POSTGRES_DBNAME"],
            host=log_env.get("POSTGRES_HOST", "127.0.0.1"),
            port=log_env.get("POSTGRES_PORT", "5432"),
            user=log_env.get("POSTGRES_USER", "postgres"),
            password=log_env.get("POSTGRES_PASSWORD", ""),
            connect_timeout=5,
            # Notice a dead server within seconds, and bound a `still_held` on a dead link.
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
            tcp_user_timeout=10_000,
        )
        self._key = _lock_key(name)
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits."""
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._conninfo, autocommit=True)
            # The server's side of the same: if the holder's host dies (no FIN, no RST), the
            # server drops the session, and with it the lock, after 5 + 3 x 2 s of silence
            # instead of the kernel's default two hours.
            self._connection.execute("SET tcp_keepalives_idle = 5")
            self._connection.execute("SET tcp_keepalives_interval = 2")
            self._connection.execute("SET tcp_keepalives_count = 3")
        row = self._connection.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        return bool(row and row[0])

    def still_held(self) -> bool:
        """False once the lock's connection is gone (the server then released the lock)."""
        if self._connection is None:
            return False
        try:
            self._connection.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def release(self) -> None:
        """Give the lock up (closing the session releases it)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class FileWriterLock:
    """An exclusive `flock` on a file in the data folder."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it; never waits."""
        if self._file is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "a")  # noqa: SIM115 (held open while the lock is)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        """A file lock lasts as long as the process holds the file open."""
        return self._file is not None

    def release(self) -> None:
        """Give the lock up."""
        if self._file is not None:
            self._file.close()
            self._file = None
