"""Follows the log in order, in batches, into a projection store.

NOTES.md measured eventsourcing's own `ProjectionRunner` at ~46 events/s into ClickHouse (one
insert, so one part, per event). This loop reads the recorder a batch at a time instead and
writes each batch as one insert per table. It also knows how far the log has been made
visible, so a client can wait for the position its ingest answered (read-your-writes).
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from domain.log import LoggedEvent, ProjectedLog
from projections.facts import FACT_TOPICS
from projections.store import ProjectionStore

log = logging.getLogger("runledger.projections")
# Positions scanned for aggregate events per read: a log folded from its start (after an
# upgrade) is read in steps, not in one.
_FACT_POSITIONS_PER_READ = 100_000


@dataclass(frozen=True, slots=True)
class Lag:
    """Seconds from an event's receipt to its visibility in the projection, over recent events."""

    p50_seconds: float | None
    p99_seconds: float | None
    samples_count: int


@dataclass(frozen=True, slots=True)
class Batches:
    """The runner's most recent batches: how many events each held and how long its store
    write took until reads saw it. With the gathering pause, these are what a lag is made of."""

    count: int
    events_p50: float | None
    apply_p50_seconds: float | None
    apply_p99_seconds: float | None


@dataclass(frozen=True, slots=True)
class BatchApplied:
    """One batch made readable: what an observer (the server's /metrics) is told."""

    events: int
    seconds: float
    oldest_lag_seconds: float
    """The longest receipt-to-visibility wait among the batch's sampled events (an imported
    event counts from its original receipt)."""


def _p99(ordered: list[float]) -> float:
    # The sample 99 % of the way up a sorted, non-empty list.
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class ProjectionRunner:
    """Applies the log to a store batch by batch; one runner per store (one writer)."""

    def __init__(
        self,
        log_: ProjectedLog,
        store: ProjectionStore,
        *,
        batch_size: int = 5000,
        idle_seconds: float = 0.5,
        gather_seconds: float = 0.05,
        on_batch: Callable[[BatchApplied], None] | None = None,
    ) -> None:
        self._log = log_
        self._on_batch = on_batch
        self._store = store
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._gather_seconds = gather_seconds
        self._position = store.position()
        # The aggregates' events are folded on a tracking row of their own: a log that held
        # them before their tables existed is folded from its start (migration 0012).
        self._facts_position = self._facts_tracked = store.facts_position()
        self._visible = self._position
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lags: deque[float] = deque(maxlen=10_000)
        # (events, seconds until readable) of recent batches; appended by the one runner thread.
        self._batches: deque[tuple[int, float]] = deque(maxlen=1_000)
        self.last_error: str | None = None

    @property
    def visible_position(self) -> int:
        """Every log record at or below this position is reflected in the store."""
        return self._visible

    def run_once(self) -> int:
        """Apply the next batch; returns how many events it held."""
        return self._apply(*self._read(self._position))

    def _read(self, after: int) -> tuple[int, list[LoggedEvent]]:
        # Read the head first: if the batch comes back short, everything up to the head was in
        # it (log positions commit in order), including non-event records the read skips.
        head = self._log.max_position()
        return head, self._log.read(after=after, limit=self._batch_size)

    def _apply(self, head: int, events: list[LoggedEvent]) -> int:
        last = events[-1].position if events else self._position
        visible = last if len(events) == self._batch_size else max(head, last)

        started = time.perf_counter()
        # The aggregates' events up to the batch's end first, so a run's end and its last
        # events become visible together. Their tracking row is written when there were some,
        # or after a long stretch without (a restart then scans that stretch again, no more).
        while self._facts_position < visible:
            through = min(visible, self._facts_position + _FACT_POSITIONS_PER_READ)
            facts = self._log.read_facts(self._facts_position, through, FACT_TOPICS)
            if facts or through - self._facts_tracked >= _FACT_POSITIONS_PER_READ:
                self._store.apply_facts(facts, through)
                self._facts_tracked = through
            self._facts_position = through

        def readable() -> None:
            took = time.perf_counter() - started
            self._batches.append((len(events), took))
            now = datetime.now(UTC)
            # An even sample across the batch: its oldest events waited longest, so the tail
            # of the lag is there.
            step = max(1, len(events) // 100)
            lags = [(now - e.received_at).total_seconds() for e in events[::step]]
            self._lags.extend(lags)
            self._publish(visible)
            if self._on_batch is not None:
                # The batch is applied: an observer's failure must not make it look failed
                # (and be applied again).
                try:
                    self._on_batch(BatchApplied(len(events), took, max(lags)))
                except Exception:
                    log.exception("a batch observer failed")

        if events:
            self._store.apply(events, readable)
            self._position = last
        self._publish(visible)
        return len(events)

    def _publish(self, visible: int) -> None:
        with self._changed:
            self._visible = max(self._visible, visible)
            self._changed.notify_all()

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply batches until the log has no more; returns how many events that was.

        The next batch is read while the current one is written: reading and decoding the log
        is Python work, while ClickHouse releases the GIL during its inserts, so the two
        overlap (a replay from zero is where this counts). Batches still apply in log order.
        """
        total = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-read-ahead") as reader:
            ahead = reader.submit(self._read, self._position)
            while True:
                head, events = ahead.result()
                if events:
                    ahead = reader.submit(self._read, events[-1].position)
                count = self._apply(head, events)
                if progress is not None:
                    progress(self._visible)
                if not count:
                    return total
                total += count

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until `position` is visible or the timeout passes; True if it is visible."""
        deadline = time.monotonic() + timeout
        self.wake()
        with self._changed:
            while self._visible < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if self._thread is None:
                    # Another process writes this projection: its tracking row tells how far.
                    self._visible = max(self._visible, self._store.position())
                    if self._visible >= position:
                        break
                    remaining = min(remaining, 0.05)
                self._changed.wait(remaining)
        return True

    def lag(self) -> Lag:
        """Receipt-to-visibility lag of the most recent events."""
        samples = sorted(self._lags)
        if not samples:
            return Lag(None, None, 0)
        return Lag(statistics.median(samples), _p99(samples), len(samples))

    def batches(self) -> Batches:
        """Sizes and write times of the most recent batches (up to 1,000)."""
        recent = list(self._batches)
        if not recent:
            return Batches(0, None, None, None)
        seconds = sorted(took for _, took in recent)
        return Batches(
            count=len(recent),
            events_p50=statistics.median(events for events, _ in recent),
            apply_p50_seconds=statistics.median(seconds),
            apply_p99_seconds=_p99(seconds),
        )

    def wake(self) -> None:
        """Tell the thread there is something new in the log (ingest calls this)."""
        self._wake.set()

    def start(self) -> None:
        """Follow the log in a daemon thread until `stop`."""
        self._thread = threading.Thread(target=self._follow, name="projection-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            # From now on another process writes this projection (a replica that lost the
            # writer lock stands by): `wait_for` must read its tracking row, not wait for us.
            self._thread = None

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                count = self.run_once()
                if count == self._batch_size:
                    continue  # more is waiting
                if count:
                    log.debug("caught up", extra={"position": self._visible})
                self.last_error = None
            except Exception as error:
                # Keep following: a ClickHouse hiccup must not stop projections for good; the
                # batch is retried from the same position, which apply() makes safe.
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception(
                    "projection batch failed; retrying", extra={"position": self._position}
                )
                self._stop.wait(1.0)
            self._wake.wait(self._idle_seconds)
            # Let a few more appends land before the next batch: every ClickHouse insert makes
            # a part and costs milliseconds, so one insert per tiny ingest request would cost
            # more than the ingest itself. This bounds the added visibility lag.
            self._stop.wait(self._gather_seconds)
            self._wake.clear()
