"""Where a run's events go: into the log first, then to whoever streams the run.

Events are buffered and appended in small batches (one fsync per batch, not per event), and
validated like those of `POST /monitoring/v1/events`, so a run's events are stored exactly like
ingested ones. The run's own records ("started", "finished") commit in the same transaction as
the events beside them. A streamed run flushes every event at once: a client sees an event
only after it is durably in the log, so anything streamed can be read back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate

from domain.batch import Batch, split_body, validate_batch
from domain.errors import FieldError, InvalidBatch
from domain.ingest import append_batch
from domain.log.ledger import Ledger

Event = dict[str, Any]
Listener = Callable[[list[Event]], None]

# A quiet run's buffered events reach the log within this time (the runtime's flusher).
FLUSH_SECONDS = 0.2
_FLUSH_EVENTS = 200


class EventRecorder:
    """Buffers one run's events and appends them to the log."""

    def __init__(
        self,
        log: Ledger,
        workspace_id: UUID,
        listeners: list[Listener],
        on_append: Callable[[], None] = lambda: None,
    ) -> None:
        self._log = log
        self._on_append = on_append
        self._workspace_id = workspace_id
        self._listeners = listeners
        self._buffer: list[Event] = []
        self._attached: list[Aggregate] = []
        self._lock = threading.Lock()
        self._oldest = 0.0
        # Events the log refused, with why: never stored, never streamed.
        self.refused: list[tuple[Event, list[FieldError]]] = []

    def emit(self, event: Event) -> None:
        """Record an event (thread-safe: node spans end in any thread)."""
        with self._lock:
            if not self._buffer:
                self._oldest = time.monotonic()
            self._buffer.append(event)
            due = bool(self._listeners) or len(self._buffer) >= _FLUSH_EVENTS
        if due:
            self.flush()

    def attach(self, aggregate: Aggregate) -> None:
        """Commit the aggregate's pending events with the next flush (one transaction)."""
        with self._lock:
            self._attached.append(aggregate)

    def flush_if_due(self) -> None:
        """Flush what waited longer than FLUSH_SECONDS."""
        with self._lock:
            due = bool(self._buffer) and time.monotonic() - self._oldest >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        """Append what is buffered, durably, then hand it to the listeners.

        An event the log refuses (as ingest would: outputs nested too deeply, say) is dropped
        and kept in `refused`, and the rest is appended. When the append fails, everything
        taken goes back to the buffer for the next flush, and the error is raised.
        """
        with self._lock:
            # Validated like ingested events; under the lock, so listeners see the events in
            # the order they were logged.
            events, batch = self._validated(self._buffer)
            self._buffer = []
            attached, self._attached = self._attached, []
            if not events and not attached:
                return
            try:
                append_batch(
                    self._log, self._workspace_id, batch, datetime.now(UTC), also_save=attached
                )
            except BaseException:
                self._buffer[:0] = events
                self._attached[:0] = attached
                raise
            self._on_append()
            for listener in self._listeners:
                listener(events)

    def refusal(self, event_id: str) -> list[FieldError] | None:
        """Why the log refuses the event of this id (it is then never stored), or None.

        A refused event is known from an earlier flush; one still buffered is checked now, on
        its own, so a run can tell before its end is recorded whether its terminal event will
        be stored."""
        with self._lock:
            for n, event in enumerate(self._buffer):
                if event.get("id") == event_id and not self._validated([event])[0]:
                    del self._buffer[n]
                    break
            return next(
                (errors for event, errors in self.refused if event.get("id") == event_id), None
            )

    def _validated(self, events: list[Event]) -> tuple[list[Event], Batch]:
        # The events ingest would accept, as ingest's batch; the others to `refused`, each with
        # its reasons.
        if not events:
            return events, Batch([], 0, 0)
        refusals: dict[int, list[FieldError]] = {}
        try:
            body = orjson.dumps(events)
        except orjson.JSONEncodeError as error:
            # Not even JSON (nested past the 254 levels orjson writes): refused by name too.
            # Each is tried in a list of its own, the level the batch adds.
            for n, event in enumerate(events):
                try:
                    orjson.dumps([event])
                except orjson.JSONEncodeError:
                    refusals[n] = [FieldError(n, "event", f"cannot be written as JSON: {error}")]
        else:
            try:
                return events, validate_batch(split_body(body, len(events)))
            except InvalidBatch as invalid:
                for field_error in invalid.errors:
                    refusals.setdefault(field_error.index or 0, []).append(field_error)
        self.refused.extend((events[n], errors) for n, errors in sorted(refusals.items()))
        return self._validated([event for n, event in enumerate(events) if n not in refusals])
