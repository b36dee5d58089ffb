"""The log as an eventsourcing `Application`: received events plus the key aggregates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from domain.envelope import Envelope
from domain.log.port import AppendResult, DedupingRecorder, LoggedEvent
from domain.log.records import STREAM_VERSION, decode_record, encode_record, event_stream_id
from domain.vocabulary import EVENT_NAMES

SQLITE_MODULE = "eventsourcing.sqlite"
POSTGRES_MODULE = "eventsourcing.postgres"

# eventsourcing picks the recorder class from APPLICATION_RECORDER_TOPIC; ours add
# insert-only-new on top of the library's recorders for the same backend.
_RECORDERS = {
    SQLITE_MODULE: "domain.log.sqlite:SQLiteLedgerRecorder",
    POSTGRES_MODULE: "domain.log.postgres:PostgresLedgerRecorder",
}
_EVENT_TOPICS = sorted(EVENT_NAMES)


class Ledger(Application[UUID]):
    """Runledger's event log. Configure it with eventsourcing's own variables.

    `PERSISTENCE_MODULE` is `eventsourcing.sqlite` (with `SQLITE_DBNAME`) or
    `eventsourcing.postgres` (with `POSTGRES_DBNAME`, `POSTGRES_HOST`, ...). In PostgreSQL the
    table is `runledger_events`; a SQLite file always names it `stored_events`.
    """

    name: ClassVar[str] = "Runledger"  # type: ignore[misc]

    def __init__(self, env: Mapping[str, str]) -> None:
        module = env.get("PERSISTENCE_MODULE", SQLITE_MODULE)
        if module not in _RECORDERS:
            raise ValueError(
                f"PERSISTENCE_MODULE must be one of {sorted(_RECORDERS)}, got {module!r}"
            )
        super().__init__(
            {**env, "PERSISTENCE_MODULE": module, "APPLICATION_RECORDER_TOPIC": _RECORDERS[module]}
        )
        self.persistence_module = module
        self._deduping = cast(DedupingRecorder, self.recorder)

    def append(
        self, workspace_id: UUID, envelopes: Sequence[Envelope], received_at: datetime
    ) -> AppendResult:
        """Store the events not stored yet, durably, in one transaction."""
        stored = [
            StoredEvent(
                originator_id=event_stream_id(workspace_id, envelope.event_id),
                originator_version=STREAM_VERSION,
                topic=envelope.name.value,
                state=encode_record(workspace_id, envelope.execution_id, received_at, envelope.raw),
            )
            for envelope in envelopes
        ]
        positions = self._deduping.insert_new_events(stored) if stored else []
        new = [p for p in positions if p is not None]
        # When nothing was new, every event was stored before and sits at or below the log's
        # current end: that is the position a client can wait for.
        return AppendResult(
            positions=positions, log_position=max(new) if new else self.max_position()
        )

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        """Received events after `after`, in log order (the key aggregates' events are skipped)."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, topics=_EVENT_TOPICS, inclusive_of_start=False
        )
        events = []
        for notification in notifications:
            header, raw = decode_record(notification.state)
            events.append(
                LoggedEvent(
                    position=notification.id,
                    workspace_id=UUID(header["workspace_id"]),
                    execution_id=UUID(header["execution_id"]),
                    name=notification.topic,
                    received_at=datetime.fromisoformat(header["received_at"]),
                    raw=raw,
                )
            )
        return events

    def max_position(self) -> int:
        """The position of the newest record in the log (0 when it is empty)."""
        return self.recorder.max_notification_id() or 0

    def count_events(self, workspace_id: UUID, event_id: UUID) -> bool:
        """True when the log holds this event of this workspace."""
        return bool(self.recorder.select_events(event_stream_id(workspace_id, event_id), limit=1))

    def close(self) -> None:
        """Release the connections."""
        self.factory.close()
