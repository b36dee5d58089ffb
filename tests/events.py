"""Hand-made Vellum events for tests that need exact control over ids, order and shape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

Event = dict[str, Any]

BASE_TIME = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _ts(offset_ms: int) -> str:
    return (BASE_TIME + timedelta(milliseconds=offset_ms)).isoformat().replace("+00:00", "Z")


def workflow_context(execution_id: str, parent: Event | None = None) -> Event:
    return {
        "type": "WORKFLOW",
        "span_id": execution_id,
        "workflow_definition": {"id": str(uuid.uuid4()), "name": "Wf", "module": ["tests"]},
        "parent": parent
        if parent is not None
        else {"type": "EXTERNAL", "span_id": str(uuid.uuid4()), "parent": None},
    }


def workflow_event(
    name: str, execution_id: str, offset_ms: int = 0, trace_id: str | None = None
) -> Event:
    """A root `workflow.execution.*` event of the execution."""
    return {
        "id": str(uuid.uuid4()),
        "name": f"workflow.execution.{name}",
        "timestamp": _ts(offset_ms),
        "api_version": "2024-10-25",
        "trace_id": trace_id or str(uuid.uuid4()),
        "span_id": execution_id,
        "parent": {"type": "EXTERNAL", "span_id": str(uuid.uuid4()), "parent": None},
        "links": None,
        "body": {
            "workflow_definition": {"id": str(uuid.uuid4()), "name": "Wf", "module": ["tests"]}
        },
    }


def node_event(name: str, execution_id: str, span_id: str, offset_ms: int = 0) -> Event:
    """A `node.execution.*` event of a node directly under the execution's root workflow."""
    return {
        "id": str(uuid.uuid4()),
        "name": f"node.execution.{name}",
        "timestamp": _ts(offset_ms),
        "api_version": "2024-10-25",
        "trace_id": str(uuid.uuid4()),
        "span_id": span_id,
        "parent": workflow_context(execution_id),
        "links": None,
        "body": {"node_definition": {"id": str(uuid.uuid4()), "name": "Node", "module": ["tests"]}},
    }


def execution(node_count: int = 2) -> list[Event]:
    """A complete, in-order execution: initiated, nodes, fulfilled."""
    execution_id = str(uuid.uuid4())
    events = [workflow_event("initiated", execution_id, 0)]
    for n in range(node_count):
        span = str(uuid.uuid4())
        events.append(node_event("initiated", execution_id, span, 10 * n + 1))
        events.append(node_event("fulfilled", execution_id, span, 10 * n + 5))
    events.append(workflow_event("fulfilled", execution_id, 10 * node_count + 10))
    return events
