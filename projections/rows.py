"""Logged events as column-oriented rows for the `events` table (the MVs derive the rest).

The events were validated at ingest, so this reads the few envelope fields it needs straight
from the parsed JSON: re-validating would double the projection's cost per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from domain.log import LoggedEvent

EVENT_COLUMNS = (
    "workspace_id",
    "execution_id",
    "span_id",
    "position",
    "event_id",
    "name",
    "parent_span_id",
    "trace_id",
    "timestamp",
    "received_at",
    "payload",
)

# Parent contexts that are spans of the trace; a span under any other context (EXTERNAL,
# API_REQUEST, ...) is a root of the tree.
_SPAN_PARENTS = frozenset({"WORKFLOW", "WORKFLOW_NODE"})


@dataclass(slots=True)
class EventRows:
    """The rows of one batch, column by column."""

    columns: list[list[Any]] = field(default_factory=lambda: [[] for _ in EVENT_COLUMNS])


def event_rows(events: Sequence[LoggedEvent]) -> EventRows:
    """Rows for `events`, in log order."""
    rows = EventRows()
    (
        workspace,
        execution,
        span,
        position,
        event_id,
        name,
        parent_span,
        trace,
        timestamp,
        received,
        payload,
    ) = rows.columns
    for event in events:
        body = orjson.loads(event.raw)
        parent = body.get("parent")
        workspace_id, execution_id, span_id = (
            str(event.workspace_id),
            str(event.execution_id),
            body["span_id"],
        )
        workspace.append(workspace_id)
        execution.append(execution_id)
        span.append(span_id)
        position.append(event.position)
        event_id.append(body["id"])
        name.append(event.name)
        parent_span.append(
            parent["span_id"] if parent and parent.get("type") in _SPAN_PARENTS else None
        )
        trace.append(body["trace_id"])
        timestamp.append(datetime.fromisoformat(body["timestamp"]))
        received.append(event.received_at)
        payload.append(event.raw)
    return rows
