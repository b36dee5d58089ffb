"""Executions' numbers at the API's edge: the projections keep the log position each execution
was listed at; a workspace is shown it only as its number (domain/execution_numbers.py)."""

from __future__ import annotations

from uuid import UUID

from starlette.requests import Request

from domain.execution_numbers import ExecutionNumbers


def shown_number(request: Request, workspace_id: UUID, position: int | None) -> int | None:
    """The workspace's number for an execution listed at `position` (None before it is)."""
    if position is None:
        return None
    numbers: ExecutionNumbers = request.app.state.execution_numbers
    return numbers.number(workspace_id, position)
