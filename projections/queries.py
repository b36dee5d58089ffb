"""The read side: plain SQL over the projections (clickhouse/queries), no domain objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client

from domain.lifecycle import ExecutionStatus, status_of
from projections.clickhouse import query_text
from projections.unreadable import Unreadable, stored_object, workflow_error

_STATUS = query_text("execution_status")
_HEADER = query_text("execution_header")
_OUTCOME_EVENT = query_text("outcome_event")


def utc(value: datetime | None) -> datetime | None:
    # chDB hands DateTime64(6, 'UTC') back without its zone; it is UTC by the column's type.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@dataclass(frozen=True, slots=True)
class ExecutionStatusView:
    """What the status endpoint answers."""

    execution_id: UUID
    status: ExecutionStatus
    outputs: dict[str, Any] | None
    error: dict[str, Any] | None
    started_at: datetime | None
    last_event_at: datetime | None
    has_conflicting_outcomes: bool
    first_position: int
    """The log position of its first event: the root span's keyset position, as a rule."""
    unreadable: list[Unreadable] = field(default_factory=list)
    """Stored values left out because the answer's shape cannot hold them."""


class ExecutionQueries:
    """Named read queries; give it a client of its own (calls on one client serialise)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def status(self, workspace_id: UUID, execution_id: UUID) -> ExecutionStatusView | None:
        """The execution's status summary, or None when the workspace has no such execution."""
        ids = {"workspace_id": workspace_id, "execution_id": execution_id}
        return status_view(execution_id, _one_row(self._client, _STATUS, ids))

    def outcome_event_id(self, workspace_id: UUID, execution_id: UUID) -> UUID | None:
        """The id of the terminal event that decided the outcome; None while there is none."""
        ids = {"workspace_id": workspace_id, "execution_id": execution_id}
        rows = self._client.query(_OUTCOME_EVENT, parameters=ids).result_rows
        return rows[0][0] if rows else None


def execution_header(client: Client, workspace_id: UUID, execution_id: UUID) -> dict[str, Any]:
    """execution_header.sql's one row: the status columns (see `status_view`), the root span's
    parent context and newest state, and the usage rows; a detail page and `verify` read it."""
    ids = {"workspace_id": workspace_id, "execution_id": execution_id}
    return _one_row(client, _HEADER, ids)


def _one_row(client: Client, query: str, parameters: dict[str, Any]) -> dict[str, Any]:
    # An aggregate without GROUP BY: exactly one row, even for an unknown execution.
    result = client.query(query, parameters=parameters)
    return dict(zip(result.column_names, result.result_rows[0], strict=True))


def status_view(execution_id: UUID, row: dict[str, Any]) -> ExecutionStatusView | None:
    """The status summary in a row with execution_status.sql's columns (others are ignored);
    None when its `row_count` says the execution is unknown."""
    if not row["row_count"]:
        return None
    outcome_status, outputs, error = row["outcome"]
    outcome = ExecutionStatus(outcome_status) if outcome_status else None
    unreadable: list[Unreadable] = []
    return ExecutionStatusView(
        execution_id=execution_id,
        status=status_of(outcome, bool(row["streamed"]), ran=True),
        outputs=(
            stored_object(outputs, "outputs", unreadable)
            if outcome is ExecutionStatus.FULFILLED
            else None
        ),
        error=workflow_error(error, "error", unreadable)
        if outcome is ExecutionStatus.REJECTED
        else None,
        started_at=utc(row["started_at"]),
        last_event_at=utc(row["last_event_at"]),
        has_conflicting_outcomes=row["outcome_status_count"] > 1,
        first_position=int(row["first_position"]),
        unreadable=unreadable,
    )
