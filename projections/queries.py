"""The read side: plain SQL over the projections (clickhouse/queries), no domain objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
from clickhouse_connect.driver.client import Client

from domain.actuals import actuals_stream_id, latest_actuals
from domain.lifecycle import ExecutionStatus, status_of
from projections.clickhouse import query_text
from projections.payloads import stored_values
from projections.unreadable import Unreadable, stored_object, workflow_error

_STATUS = query_text("execution_status")
_HEADER = query_text("execution_header")
_OUTCOME_EVENT = query_text("outcome_event")
_RUN_BY_EXTERNAL_ID = query_text("run_by_external_id")
_AT_POSITION = query_text("execution_at_position")


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


@dataclass(frozen=True, slots=True)
class RunView:
    """The runtime's record of an execution it was asked to make (0012's `runs`)."""

    requested_at: datetime
    started_at: datetime | None
    finished_status: str | None
    cancel_requested: dict[str, Any] | None
    inputs: dict[str, Any]
    deployment_id: UUID | None = None
    release_id: UUID | None = None
    release_tag: str | None = None
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    requested_position: int | None = None
    """Where the request is in the log: where the run was listed (migration 0014)."""

    @property
    def started(self) -> bool:
        """A worker took the run (its events may not be visible yet)."""
        return self.started_at is not None


@dataclass(frozen=True, slots=True)
class ExecutionRead:
    """Everything one execution's status read finds: the summary of its events (None before
    any is visible), the run (None unless the runtime made it), the newest actual per output
    (None when none was submitted)."""

    summary: ExecutionStatusView | None
    run: RunView | None
    actuals: list[dict[str, Any]] | None

    @property
    def found(self) -> bool:
        """Whether the workspace has this execution at all."""
        return self.summary is not None or self.run is not None


def execution_ids(workspace_id: UUID, execution_id: UUID) -> dict[str, Any]:
    """The parameters of execution_status.sql and execution_header.sql."""
    return {
        "workspace_id": workspace_id,
        "execution_id": execution_id,
        "actuals_stream": actuals_stream_id(workspace_id, execution_id),
    }


def run_view(workspace_id: UUID, row: dict[str, Any]) -> RunView | None:
    """The `run` column of a status or header row, when it is a run of this workspace."""
    (
        run_workspace,
        requested_at,
        started_at,
        finished,
        cancel,
        inputs,
        deployment_id,
        release_id,
        release_tag,
        external_id,
        metadata,
        requested_position,
    ) = row["run"]
    if run_workspace != workspace_id or requested_at is None:
        return None
    return RunView(
        requested_at=utc(requested_at) or requested_at,
        started_at=utc(started_at),
        finished_status=finished,
        cancel_requested=orjson.loads(cancel) if cancel else None,
        inputs=orjson.loads(inputs) if inputs else {},
        deployment_id=deployment_id,
        release_id=release_id,
        release_tag=release_tag,
        external_id=external_id,
        metadata=orjson.loads(metadata) if metadata else None,
        requested_position=requested_position,
    )


def actuals_view(row: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The newest actual per output in the `actuals` column of a status or header row."""
    submitted = [
        ((position, item), orjson.loads(actual)) for position, item, actual, _ in row["actuals"]
    ]
    return latest_actuals(submitted) if submitted else None


class ExecutionQueries:
    """Named read queries; give it a client of its own (calls on one client serialise)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def status(self, workspace_id: UUID, execution_id: UUID) -> ExecutionRead:
        """The execution's status summary, run and actuals, in one statement."""
        row = _one_row(self._client, _STATUS, execution_ids(workspace_id, execution_id))
        status, outputs, error = row["outcome"]
        (outputs,) = stored_values(self._client, workspace_id, execution_id, [outputs])
        row["outcome"] = (status, outputs, error)
        return ExecutionRead(
            summary=status_view(execution_id, row),
            run=run_view(workspace_id, row),
            actuals=actuals_view(row),
        )

    def run_by_external_id(self, workspace_id: UUID, external_id: str) -> UUID | None:
        """The execution of the run an `external_id` names in the workspace."""
        parameters = {"workspace_id": workspace_id, "external_id": external_id}
        rows = self._client.query(_RUN_BY_EXTERNAL_ID, parameters=parameters).result_rows
        return rows[0][0] if rows else None

    def listed_at(self, workspace_id: UUID, position: int) -> UUID | None:
        """The execution listed at a log position in the workspace (migration 0014), if any."""
        parameters = {"workspace_id": workspace_id, "position": position}
        rows = self._client.query(_AT_POSITION, parameters=parameters).result_rows
        return rows[0][0] if rows else None

    def outcome_event_id(self, workspace_id: UUID, execution_id: UUID) -> UUID | None:
        """The id of the terminal event that decided the outcome; None while there is none."""
        ids = {"workspace_id": workspace_id, "execution_id": execution_id}
        rows = self._client.query(_OUTCOME_EVENT, parameters=ids).result_rows
        return rows[0][0] if rows else None


def execution_header(
    client: Client, workspace_id: UUID, execution_id: UUID, *, inline_values: bool = True
) -> dict[str, Any]:
    """execution_header.sql's one row: the status columns (see `status_view`), the root span's
    parent context and newest state, and the usage rows; a detail page and `verify` read it.
    The state is whole unless not `inline_values` (projections/payloads.py). The outcome's
    outputs stay as stored: its readers take the root span's outputs, which a detail page
    reads with its spans, instead of fetching a large value twice."""
    row = _one_row(client, _HEADER, execution_ids(workspace_id, execution_id))
    if inline_values:
        (row["state"],) = stored_values(client, workspace_id, execution_id, [row["state"]])
    return row


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
