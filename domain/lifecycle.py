"""The lifecycle of an execution as pure functions that projections fold events with.

Events arrive late, twice and out of order (DESIGN.md §2), so an execution's summary is a
join-semilattice: `merge` is associative, commutative and idempotent, and the summary of any
set of events is the same whatever order or how often they were applied. Each field maps onto
a ClickHouse aggregate state (min, max, argMin), which is how the status table is kept.

The rules:
- Only the root `workflow.execution` span (span id == execution id) decides the outcome;
  a nested sub-workflow that fails does not end its execution.
- An execution has one terminal outcome: the earliest `fulfilled`/`rejected` of the root span
  by (timestamp, event id). A contradictory later one is kept in the log, counted as a
  conflict, and changes nothing.
- Events after the outcome (a late node, a late `initiated`) are recorded and change nothing.
- STREAMING once the root span streamed an output; INITIATED once anything of the execution
  was seen (a node seen before its workflow's `initiated` still proves it runs); PENDING when
  the execution is known but nothing has run yet (a queued run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.envelope import Envelope
from domain.vocabulary import EventName


class ExecutionStatus(StrEnum):
    """Vellum's execution statuses."""

    PENDING = "PENDING"
    INITIATED = "INITIATED"
    STREAMING = "STREAMING"
    FULFILLED = "FULFILLED"
    REJECTED = "REJECTED"


def status_of(outcome: ExecutionStatus | None, streamed: bool, ran: bool) -> ExecutionStatus:
    """The status rule, on the summary's parts (projections hold them as aggregate columns)."""
    if outcome is not None:
        return outcome
    if streamed:
        return ExecutionStatus.STREAMING
    if ran:
        return ExecutionStatus.INITIATED
    return ExecutionStatus.PENDING


_LOW_64 = (1 << 64) - 1


def uuid_order(value: UUID) -> tuple[int, int]:
    """The order ties between events with one timestamp are broken in: by event id, compared
    as ClickHouse compares UUIDs (the low 64 bits first), so a fold of the log and the
    projections' argMin pick the same event."""
    return value.int & _LOW_64, value.int >> 64


@dataclass(frozen=True, slots=True, order=True)
class Outcome:
    """A terminal event of the root span; ordering picks the one that counts."""

    timestamp: datetime
    tie: tuple[int, int]
    event_id: UUID = field(compare=False)
    status: ExecutionStatus = field(compare=False)


@dataclass(frozen=True, slots=True)
class ExecutionSummary:
    """What the lifecycle knows of an execution; combine two with `merge`."""

    execution_id: UUID
    started_at: datetime | None = None
    last_event_at: datetime | None = None
    streamed: bool = False
    ran: bool = False
    outcome: Outcome | None = None
    outcome_statuses: frozenset[ExecutionStatus] = frozenset()

    @property
    def status(self) -> ExecutionStatus:
        """The status a client polling the execution sees."""
        return status_of(self.outcome.status if self.outcome else None, self.streamed, self.ran)

    @property
    def has_conflicting_outcomes(self) -> bool:
        """True when the root span was reported both fulfilled and rejected."""
        return len(self.outcome_statuses) > 1


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def merge(a: ExecutionSummary, b: ExecutionSummary) -> ExecutionSummary:
    """The summary of the events behind `a` and `b` together."""
    if a.execution_id != b.execution_id:
        raise ValueError(f"cannot merge executions {a.execution_id} and {b.execution_id}")
    outcomes = [o for o in (a.outcome, b.outcome) if o is not None]
    return ExecutionSummary(
        execution_id=a.execution_id,
        started_at=_min(a.started_at, b.started_at),
        last_event_at=_max(a.last_event_at, b.last_event_at),
        streamed=a.streamed or b.streamed,
        ran=a.ran or b.ran,
        outcome=min(outcomes) if outcomes else None,
        outcome_statuses=a.outcome_statuses | b.outcome_statuses,
    )


_OUTCOME_OF = {
    EventName.WORKFLOW_FULFILLED: ExecutionStatus.FULFILLED,
    EventName.WORKFLOW_REJECTED: ExecutionStatus.REJECTED,
}


def summarize(event: Envelope) -> ExecutionSummary:
    """The summary of a single event."""
    is_root = event.span_id == event.execution_id
    status = _OUTCOME_OF.get(event.name) if is_root else None
    outcome = (
        Outcome(event.timestamp, uuid_order(event.event_id), event.event_id, status)
        if status
        else None
    )
    return ExecutionSummary(
        execution_id=event.execution_id,
        started_at=event.timestamp
        if is_root and event.name is EventName.WORKFLOW_INITIATED
        else None,
        last_event_at=event.timestamp,
        streamed=is_root and event.name is EventName.WORKFLOW_STREAMING,
        ran=True,
        outcome=outcome,
        outcome_statuses=frozenset({status}) if status else frozenset(),
    )


def apply(summary: ExecutionSummary, event: Envelope) -> ExecutionSummary:
    """The summary after one more event."""
    return merge(summary, summarize(event))


def fold(execution_id: UUID, events: list[Envelope]) -> ExecutionSummary:
    """The summary of an execution's events, in any order."""
    summary = ExecutionSummary(execution_id=execution_id)
    for event in events:
        summary = apply(summary, event)
    return summary
