"""An execution's resolved state: what `GET /v1/workflows/{span_id}/state` answers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from clickhouse_connect.driver.client import Client

from domain.state import ResolvedState
from projections.clickhouse import query_text
from projections.payloads import inline, stored_values
from projections.queries import utc

_STATE = query_text("execution_state")


def _uuid(value: object) -> UUID | None:
    # Links are kept as sent: ingest checks their shape, not that their ids are UUIDs.
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _link(links: list[dict[str, Any]], kind: str) -> tuple[UUID | None, UUID | None]:
    for link in links:
        if isinstance(link, dict) and link.get("type") == kind:
            context = link.get("span_context")
            span_id = context.get("span_id") if isinstance(context, dict) else None
            return _uuid(link.get("trace_id")), _uuid(span_id)
    return None, None


def execution_state(client: Client, workspace_id: UUID, execution_id: UUID) -> ResolvedState | None:
    """The execution's state, or None when it has no snapshot in this workspace."""
    result = client.query(
        _STATE, parameters={"workspace_id": workspace_id, "execution_id": execution_id}
    )
    row = dict(zip(result.column_names, result.result_rows[0], strict=True))
    timestamp = utc(row["snapshot_at"])
    if timestamp is None:
        return None
    raw_state, trace_id = row["snapshot"]
    (raw_state,) = stored_values(client, workspace_id, execution_id, [raw_state])
    state = orjson.loads(raw_state) if raw_state else {}
    raw_links = row["initiated_links"]
    links = orjson.loads(raw_links) if raw_links and raw_links != "null" else []
    links = links if isinstance(links, list) else []
    previous_trace, previous_span = _link(links, "PREVIOUS_SPAN")
    root_trace, root_span = _link(links, "ROOT_SPAN")
    return ResolvedState(
        span_id=execution_id,
        trace_id=trace_id,
        timestamp=timestamp,
        state=state if isinstance(state, dict) else {"value": state},
        previous_trace_id=previous_trace,
        previous_span_id=previous_span,
        root_trace_id=root_trace,
        root_span_id=root_span,
    )


_EVENTS = query_text("execution_events")


def recorded_events(client: Client, workspace_id: UUID, execution_id: UUID) -> list[bytes]:
    """Every event of the execution in log order, byte for byte as it was recorded."""
    result = client.query(
        _EVENTS, parameters={"workspace_id": workspace_id, "execution_id": execution_id}
    )
    events = [row[0].encode() if isinstance(row[0], str) else row[0] for row in result.result_rows]
    return inline(client, workspace_id, execution_id, events)
