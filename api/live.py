"""The live projections of a running server: clients, runner and readers of one generation.

A replay switches the generation pointer; `follow_pointer` (polled by a thread) swaps this
server over: the runner stops after its batch, new clients open on the new generation, and
the new runner resumes from that generation's tracking row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from clickhouse_connect.driver.client import Client

from api.locks import migration_lock
from api.settings import Settings
from domain.log.ledger import Ledger
from projections.clickhouse import connect
from projections.dashboard_views import apply_views
from projections.deployments import DeploymentQueries
from projections.detail import ExecutionDetails
from projections.generations import Generations
from projections.leader import WriterLock, holding
from projections.listing import ExecutionList
from projections.metrics import ExecutionMetrics
from projections.migrations import apply_migrations
from projections.queries import ExecutionQueries
from projections.runner import BatchApplied, ProjectionRunner
from projections.store import ClickHouseStore

log = logging.getLogger("runledger.projections")
_WAIT_SLICE_SECONDS = 1.0
RETIRED_CLIENTS_GRACE_SECONDS = 30.0
"""How long a replaced generation's clients stay open for the reads already running on them."""


class LiveProjections:
    """What the routes read from and what follows the log, for the live generation."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        lock: WriterLock | None,
        on_batch: Callable[[BatchApplied], None] | None = None,
    ) -> None:
        self._settings = settings
        self._on_batch = on_batch
        self._ledger = ledger
        # Only the lock's holder runs the projection runner; the others read and stand by.
        self._lock_of_writer = lock
        self.leading = lock is not None and lock.try_acquire()
        self._generations = Generations(settings.clickhouse_url, settings.clickhouse_database)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.database = ""
        self._clients: list[Client] = []
        self._retiring: list[tuple[threading.Timer, ExecutionDetails | None, list[Client]]] = []
        self._switch_to(self._generations.active())

    def _switch_to(self, database: str) -> None:
        # The writer and the readers get clients of their own: calls on one client serialise.
        # Detail pages read their spans and their header at once, each on a client of its own,
        # and leave `reader` to status reads.
        clients: list[Client] = []
        try:
            for _ in range(5):
                clients.append(connect(self._settings.clickhouse_url, database))
            # Lists and counts read more than a status does: on a client of their own, they
            # never hold a status read up.
            writer, reader, detail_spans, detail_header, lists = clients
            # Every process migrates at start, one at a time across the deployment.
            with holding(migration_lock(self._settings, database), f"migrations of {database}"):
                apply_migrations(writer)
                apply_views(writer)
            runner = ProjectionRunner(
                self._ledger,
                ClickHouseStore(writer, self._settings.inline_payload_bytes),
                on_batch=self._on_batch,
            )
        except BaseException:
            # The watcher retries a failed switch every few seconds: leave no client open.
            for client in clients:
                client.close()
            raise
        queries = ExecutionQueries(reader)
        with self._lock:
            old_runner = getattr(self, "runner", None)
            old_clients = self._clients
            old_details = getattr(self, "details", None)
            self.runner, self.queries = runner, queries
            self.deployments = DeploymentQueries(reader)
            self.listing = ExecutionList(lists)
            self.metrics = ExecutionMetrics(lists)
            self.details = ExecutionDetails(detail_spans, detail_header)
            self.reader = reader
            self.database, self._clients = database, clients
        if old_runner is not None:
            old_runner.stop()
        if old_details is not None or old_clients:
            self._retire(old_details, old_clients)
        if self.leading:
            runner.start()
        log.info(
            "projections live", extra={"database": database, "position": runner.visible_position}
        )

    def _retire(self, details: ExecutionDetails | None, clients: list[Client]) -> None:
        # A read that began before the switch (a status read, a detail page, a verify) still
        # holds the old generation's clients: closing them under it failed it with a 500.
        def close() -> None:
            with self._lock:
                self._retiring = [entry for entry in self._retiring if entry[0] is not timer]
            _close(details, clients)

        timer = threading.Timer(RETIRED_CLIENTS_GRACE_SECONDS, close)
        timer.daemon = True
        with self._lock:
            self._retiring.append((timer, details, clients))
        timer.start()

    @property
    def visible_position(self) -> int:
        """How far the live runner (or, on a replica that does not write, the writer's
        tracking row, as far as a wait has read it) has made the log visible."""
        return self.runner.visible_position

    def wait_for(self, position: int, timeout: float) -> bool:
        """`ProjectionRunner.wait_for` on whichever runner is live, a second at a time: a replay
        that switches generations meanwhile hands the wait to the new runner (the old one's
        generation is no longer written, so a wait left on it would only time out)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if self.runner.wait_for(position, min(remaining, _WAIT_SLICE_SECONDS)):
                return True
            if time.monotonic() >= deadline:
                return False

    def follow_pointer(self) -> bool:
        """Switch to the active generation if a replay moved it; True if it did."""
        active = self._generations.active()
        if active == self.database:
            return False
        self._switch_to(active)
        return True

    def follow_leadership(self) -> None:
        """Start writing when the writer lock frees up; stop at once when it is lost."""
        lock = self._lock_of_writer
        if lock is None:
            return
        if self.leading and not lock.still_held():
            self.leading = False
            self.runner.stop()
            log.warning("lost the projection writer lock; standing by")
        elif not self.leading and lock.try_acquire():
            self.leading = True
            log.info("took the projection writer lock")
            try:
                self._switch_to(self._generations.active())
            except BaseException:
                # Holding the lock with no runner would stop every replica's projections (the
                # others stand by): give it back; the watcher's next tick tries again.
                self.leading = False
                lock.release()
                raise

    def watch(self, interval_seconds: float = 2.0) -> None:
        """Follow the pointer in a daemon thread until `close`."""

        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.follow_leadership()
                    self.follow_pointer()
                except Exception:
                    log.exception("could not follow the generation pointer")

        self._watcher = threading.Thread(target=loop, name="generation-watcher", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        """Stop following; the runner finishes its batch and resumes from tracking next start."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(10)
        self.runner.stop()
        with self._lock:
            retiring, self._retiring = self._retiring, []
        for timer, details, clients in retiring:
            timer.cancel()
            _close(details, clients)
        _close(self.details, self._clients)
        self._generations.close()
        if self._lock_of_writer is not None:
            self._lock_of_writer.release()


def _close(details: ExecutionDetails | None, clients: list[Client]) -> None:
    if details is not None:
        details.close()
    for client in clients:
        client.close()
