"""The port of the event log: what ingest writes and projections read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent

from domain.envelope import Envelope
from domain.log.chain import Block


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: per envelope its new log position, or None if it was a duplicate."""

    positions: list[int | None]
    log_position: int

    @property
    def accepted_count(self) -> int:
        """Events stored by this append."""
        return sum(1 for position in self.positions if position is not None)

    @property
    def duplicate_count(self) -> int:
        """Events that were already in the log."""
        return len(self.positions) - self.accepted_count


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One event as the log holds it, at its position in the notification log."""

    position: int
    workspace_id: UUID
    execution_id: UUID
    name: str
    received_at: datetime
    raw: bytes


@dataclass(frozen=True, slots=True)
class LoggedFact:
    """One event of an aggregate (a run, a deployment, actuals) at its position in the log.

    `attributes` are the event's own fields (a run request's deployment and inputs, a
    release's entrypoint, ...), decoded by the log's mapper; `timestamp` is when it happened.
    """

    position: int
    topic: str
    originator_id: UUID
    timestamp: datetime
    attributes: dict[str, Any]


class DedupingRecorder(Protocol):
    """A recorder that inserts only the stored events whose key it does not hold yet, and
    commits each insert's block of the hash chain (domain/log/chain.py) with it.

    Returns, in order, the notification id of each inserted event and None for each event
    that was already there. All of a call's events commit together or not at all.

        >>> recorder.insert_new_events([first, first_again])   # doctest: +SKIP
        [41, None]
    """

    def insert_new_events(self, stored_events: Sequence[StoredEvent]) -> list[int | None]: ...

    def chain_upgrade(self, page: int) -> int:
        """Chain a log from before the chain, once, while its chain is empty (`page` records
        a block); how many records were chained."""
        ...

    def chain_head(self) -> tuple[int, bytes]:
        """The last chained position and the link after it."""
        ...

    def chain_blocks(self, after: int, limit: int) -> list[Block]:
        """The hash chain's blocks whose last position is after `after`, in order."""
        ...


class EventLog(Protocol):
    """The log of received Vellum events.

    `append` returns only after the events are durably stored; its answer names each event's
    position. `read` returns events after a position in log order, so a reader that remembers
    the last position it processed can resume exactly there.

        >>> result = log.append(workspace_id, envelopes, received_at=now)   # doctest: +SKIP
        >>> [e.position for e in log.read(after=0, limit=10)]               # doctest: +SKIP
        [1, 2, 3]
    """

    def append(
        self,
        workspace_id: UUID,
        envelopes: Sequence[Envelope],
        received_at: datetime,
        *,
        also_save: Sequence[Aggregate] = (),
    ) -> AppendResult:
        """`also_save`: aggregates whose pending events commit in the same transaction."""
        ...

    def read(self, after: int, limit: int) -> list[LoggedEvent]: ...

    def max_position(self) -> int: ...


class ProjectedLog(EventLog, Protocol):
    """The log as the projections follow it: its received events, and the events of the
    aggregates they fold (runs, actuals, deployments).

        >>> log.read_facts(0, log.max_position(), [RUN_REQUESTED])   # doctest: +SKIP
        [LoggedFact(position=7, topic='domain.runs:Run.Requested', ...)]
    """

    def read_facts(self, after: int, through: int, topics: Sequence[str]) -> list[LoggedFact]:
        """The aggregate events of `topics` at positions after..through, in log order."""
        ...
