"""The log as an eventsourcing `Application`: received events plus the key aggregates."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.utils import Environment, EnvType

from domain.envelope import Envelope
from domain.log.chain import Block, ChainCheck, check, digested, digested_event
from domain.log.port import AppendResult, DedupingRecorder, LoggedEvent, LoggedFact
from domain.log.records import STREAM_VERSION, RecordEncoder, decode_record, event_stream_id
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
# What every eventsourcing event carries besides its own fields.
_EVENT_ENVELOPE_ATTRIBUTES = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic"}
)

# Records a block holds when a log from before the chain is chained.
_CHAIN_BACKLOG_RECORDS = 10_000
# Records and blocks a chain check reads at a time.
_CHECK_RECORDS, _CHECK_BLOCKS = 10_000, 1_000
# A group commit takes waiting appends up to this many events into one transaction.
GROUP_COMMIT_EVENTS = 10_000
# How many of its own newest records the ledger keeps in memory for `read` (about 1 KB an
# event): more than the projection runner's batch, so a runner that keeps up never reads back.
TAIL_RECORDS = 10_000


# What a received event's LoggedEvent holds besides the position its commit gives it: a plain
# tuple, since ingest builds one per event.
_Received = tuple[UUID, UUID, str, datetime, bytes]


@dataclass(slots=True)
class _PendingAppend:
    stored: list[StoredEvent]
    # Per stored event, what `read` would return for it; an aggregate's event as it is stored.
    received: list[_Received | StoredEvent]
    positions: list[int | None] | None = None
    error: BaseException | None = None


class _Tail:
    """The newest records this ledger committed, by position: `read` answers from here when
    they are every record after the position asked for, up to the log's end, instead of
    reading back and decoding what it has just written (the projection runner's every batch).

    Only this process's commits are here. A record another process or connection committed is
    a hole in the positions, and so is a position PostgreSQL's sequence gave away unused (to a
    transaction that rolled back, or to a duplicate that `ON CONFLICT DO NOTHING` skipped):
    either way `read` goes to the database. An aggregate's event is kept as its stored event,
    a position `read` skips and `facts` answers.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._records: OrderedDict[int, _Received | StoredEvent] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, group: Sequence[_PendingAppend]) -> None:
        with self._lock:
            for pending in group:
                assert pending.positions is not None
                for position, received in zip(pending.positions, pending.received, strict=True):
                    if position is not None:
                        self._records[position] = received
            while len(self._records) > self._capacity:
                self._records.popitem(last=False)

    def read(self, after: int, limit: int, end: int) -> list[LoggedEvent] | None:
        """The events of positions after..end, up to `limit` of them; None unless every one
        of those positions is here."""
        events: list[LoggedEvent] = []
        position = after
        with self._lock:
            while position < end and len(events) < limit:
                position += 1
                if position not in self._records:
                    return None
                received = self._records[position]
                if not isinstance(received, StoredEvent):
                    events.append(LoggedEvent(position, *received))
        return events

    def facts(
        self, after: int, through: int, topics: frozenset[str]
    ) -> list[tuple[int, StoredEvent]] | None:
        """The aggregate events of `topics` at positions after..through; None unless every one
        of those positions is here."""
        found: list[tuple[int, StoredEvent]] = []
        with self._lock:
            for position in range(after + 1, through + 1):
                record = self._records.get(position)
                if record is None:
                    return None
                if isinstance(record, StoredEvent) and record.topic in topics:
                    found.append((position, record))
        return found


class Ledger(Application[UUID]):
    """Runledger's event log. Configure it with eventsourcing's own variables.

    `PERSISTENCE_MODULE` is `eventsourcing.sqlite` (with `SQLITE_DBNAME`) or
    `eventsourcing.postgres` (with `POSTGRES_DBNAME`, `POSTGRES_HOST`, ...). In PostgreSQL the
    table is `runledger_events`; a SQLite file always names it `stored_events`.
    """

    name: ClassVar[str] = "Runledger"  # type: ignore[misc]

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        tail_records: int = TAIL_RECORDS,
        upgrade_chain: bool = True,
    ) -> None:
        """`tail_records`: how many of its newest commits it keeps for `read` (0: none, as on a
        replica whose projector runs elsewhere: nothing in its process reads the log's end).
        `upgrade_chain`: chain a log from before the chain (False: a reader, such as a check
        of the chain, that must leave the log as it found it)."""
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
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_PendingAppend] = []
        self._tail = _Tail(tail_records) if tail_records else None
        # A log written before the chain existed is chained now, once (a log that has its
        # chain answers this with one read). Writers of an older version must be stopped
        # first: a record one writes later has no block, and the chain calls it added.
        if upgrade_chain:
            self._deduping.chain_upgrade(_CHAIN_BACKLOG_RECORDS)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """Only the mapping given: the composition root reads the environment, nobody else.

        (eventsourcing would also merge `os.environ`, where `RUNLEDGER_SQLITE_DBNAME` and the
        like would silently override the settings.)
        """
        return Environment(name, dict(env or {}))

    def append(
        self,
        workspace_id: UUID,
        envelopes: Sequence[Envelope],
        received_at: datetime,
        *,
        also_save: Sequence[Aggregate] = (),
    ) -> AppendResult:
        """Store the events not stored yet, durably, in one transaction.

        `also_save` commits the aggregates' pending events in the same transaction (the runtime
        records "this run started" together with the run's first events: one fsync, not two).
        Unlike received events, an aggregate event whose version is taken is an error.
        """
        encoder = RecordEncoder(workspace_id, received_at)
        # Digested here, before the group commit: the write lock is held only to link them.
        stored: list[StoredEvent] = [
            digested_event(
                event_stream_id(workspace_id, envelope.event_id),
                STREAM_VERSION,
                envelope.name.value,
                encoder.encode(envelope.execution_id, envelope.raw),
            )
            for envelope in envelopes
        ]
        saved: list[StoredEvent] = [
            digested(self.mapper.to_stored_event(e)) for a in also_save for e in a.collect_events()
        ]
        received: list[_Received | StoredEvent] = [*stored, *saved]
        if self._tail is not None:
            received[: len(stored)] = [
                (workspace_id, e.execution_id, e.name.value, received_at, e.raw) for e in envelopes
            ]
        committed = self._group_commit(stored + saved, received) if stored or saved else []
        positions = committed[: len(stored)]
        if any(p is None for p in committed[len(stored) :]):
            raise IntegrityError("an aggregate event's version was already recorded")
        new = [p for p in positions if p is not None]
        # When nothing was new, every event was stored before and sits at or below the log's
        # current end: that is the position a client can wait for.
        return AppendResult(
            positions=positions, log_position=max(new) if new else self.max_position()
        )

    def _group_commit(
        self, stored: list[StoredEvent], received: list[_Received | StoredEvent]
    ) -> list[int | None]:
        """Insert, sharing one transaction with the appends waiting at the same time.

        The log has one writer at a time anyway (SQLite's lock, PostgreSQL's table lock), so
        concurrent requests queue; whoever holds the write lock commits everything queued, up
        to GROUP_COMMIT_EVENTS, at once. One fsync then serves many small batches, and no
        request times out waiting for a pooled writer connection. Every request still returns
        only after its own events committed, and a failed commit fails all of its group.

        The write lock is not first come, first served: its holder may be queued behind
        appends that fill a group without it, so it commits group after group until its own
        is done. Returning without its events would answer an error for events that the next
        commit then stores.
        """
        mine = _PendingAppend(stored, received)
        with self._queue_lock:
            self._queue.append(mine)
        with self._write_lock:
            while mine.positions is None and mine.error is None:
                with self._queue_lock:
                    group: list[_PendingAppend] = []
                    events_count = 0
                    while self._queue and (
                        not group
                        or events_count + len(self._queue[0].stored) <= GROUP_COMMIT_EVENTS
                    ):
                        group.append(self._queue.pop(0))
                        events_count += len(group[-1].stored)
                self._commit(group)
        if mine.error is not None:
            raise mine.error
        assert mine.positions is not None
        return mine.positions

    def _commit(self, group: list[_PendingAppend]) -> None:
        try:
            positions = self._deduping.insert_new_events([e for p in group for e in p.stored])
        except BaseException as error:
            for pending in group:
                pending.error = error
            return
        offset = 0
        for pending in group:
            pending.positions = positions[offset : offset + len(pending.stored)]
            offset += len(pending.stored)
        # Still under the write lock: the tail learns commits in their order.
        if self._tail is not None:
            self._tail.add(group)

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        """Received events after `after`, in log order (the key aggregates' events are skipped)."""
        if self._tail is not None:
            recent = self._tail.read(after, limit, self.max_position())
            if recent is not None:
                return recent
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

    def read_facts(self, after: int, through: int, topics: Sequence[str]) -> list[LoggedFact]:
        """The aggregate events of `topics` at positions after..through, in log order, decoded
        (the projections fold runs, actuals and deployments from them)."""
        if through <= after:
            return []
        wanted = frozenset(topics)
        recent = self._tail.facts(after, through, wanted) if self._tail is not None else None
        if recent is None:
            recent = [
                (n.id, n)
                for n in self.recorder.select_notifications(
                    start=after,
                    limit=through - after,
                    stop=through,
                    topics=sorted(wanted),
                    inclusive_of_start=False,
                )
            ]
        return [self._fact(position, stored) for position, stored in recent]

    def _fact(self, position: int, stored: StoredEvent) -> LoggedFact:
        event = self.mapper.to_domain_event(stored)
        attributes = {
            name: value
            for name, value in vars(event).items()
            if name not in _EVENT_ENVELOPE_ATTRIBUTES
        }
        return LoggedFact(
            position=position,
            topic=stored.topic,
            originator_id=UUID(str(stored.originator_id)),
            timestamp=cast(Any, event).timestamp,
            attributes=attributes,
        )

    def scan(self, after: int, limit: int) -> list[tuple[int, StoredEvent]]:
        """Every record after `after`, received events and the aggregates' events alike, in
        log order with their positions, as stored (an export reads the whole log with it)."""
        return [
            (notification.id, notification)
            for notification in self.recorder.select_notifications(
                start=after, limit=limit, inclusive_of_start=False
            )
        ]

    def insert_records(self, records: Sequence[StoredEvent]) -> list[int | None]:
        """Store records exactly as another log held them (an import), through the same
        group commit as every append; per record its position here, or None when this log
        holds it already (same stream and version), so importing twice adds nothing."""
        if not records:
            return []
        chained: list[StoredEvent] = [digested(record) for record in records]
        if self._tail is None:  # nothing keeps what `read` would answer for them
            return self._group_commit(chained, list(chained))
        received: list[_Received | StoredEvent] = []
        for record in records:
            if record.topic in EVENT_NAMES:
                header, raw = decode_record(record.state)
                received.append(
                    (
                        UUID(header["workspace_id"]),
                        UUID(header["execution_id"]),
                        record.topic,
                        datetime.fromisoformat(header["received_at"]),
                        raw,
                    )
                )
            else:
                received.append(record)
        return self._group_commit(chained, received)

    def held_state(self, originator_id: UUID | str, version: int) -> bytes | None:
        """The state this log holds for a stream's version, if any (an import compares it)."""
        found = self.recorder.select_events(
            UUID(str(originator_id)), gt=version - 1, lte=version, limit=1
        )
        return found[0].state if found else None

    def chain_head(self) -> tuple[int, bytes]:
        """The hash chain's head: the last chained position and the link after it."""
        return self._deduping.chain_head()

    def check_chain(self, checkpoint: tuple[int, bytes] | None = None) -> ChainCheck:
        """Walk the hash chain and every record (`domain.log.chain.check`), through the
        checkpoint's link at its position if one is given."""

        def blocks() -> Iterator[Block]:
            after = 0
            while found := self._deduping.chain_blocks(after, _CHECK_BLOCKS):
                yield from found
                after = found[-1].last_position

        def records() -> Iterator[tuple[int, StoredEvent]]:
            after = 0
            while found := self.scan(after, _CHECK_RECORDS):
                yield from found
                after = found[-1][0]

        return check(blocks(), records(), checkpoint)

    def max_position(self) -> int:
        """The position of the newest record in the log (0 when it is empty)."""
        return self.recorder.max_notification_id() or 0

    def close(self) -> None:
        """Release the connections."""
        self.factory.close()
