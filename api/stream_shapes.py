"""A run's events in the shapes of Vellum's execute endpoints (`WorkflowStreamEvent` and kin).

`POST /v1/execute-workflow-stream` speaks Vellum's older result-event vocabulary: one
`WORKFLOW` event per state of the root workflow span (INITIATED, STREAMING, FULFILLED or
REJECTED) and, when asked for, one `NODE` event per state of each node span. The native
endpoint streams the events themselves.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from domain.vellum_values import output_type, typed_outputs
from runtime.handles import Outcome

Event = dict[str, Any]

_STATES = {
    "initiated": "INITIATED",
    "streaming": "STREAMING",
    "fulfilled": "FULFILLED",
    "rejected": "REJECTED",
}


def _error(error: Any) -> dict[str, Any]:
    error = error if isinstance(error, dict) else {}
    return {
        "message": str(error.get("message") or "the execution was rejected"),
        "code": error.get("code") or "INTERNAL_SERVER_ERROR",
        "raw_data": error.get("raw_data"),
        "stacktrace": error.get("stacktrace"),
    }


def result_data(outcome: Outcome) -> dict[str, Any]:
    """The `data` of an execute-workflow answer: fulfilled with outputs, or rejected."""
    data: dict[str, Any] = {
        # The terminal event's id (a new one only if the log had none to name: never expected).
        "id": outcome.event_id or str(uuid4()),
        "state": outcome.status,
        "ts": outcome.at.isoformat().replace("+00:00", "Z"),
    }
    if outcome.status == "FULFILLED":
        data["outputs"] = typed_outputs(outcome.outputs)
    else:
        data["error"] = _error(outcome.error)
    return data


def stream_event(
    event: Event, execution_id: str, external_id: str | None, event_types: frozenset[str]
) -> dict[str, Any] | None:
    """The `WorkflowStreamEvent` for one logged event, or None if it is not streamed."""
    kind, _, phase = event["name"].rpartition(".")
    state = _STATES.get(phase)
    if state is None:
        return None
    body = event.get("body") or {}
    envelope = {"execution_id": execution_id, "run_id": None, "external_id": external_id}
    if kind == "workflow.execution":
        if event["span_id"] != execution_id or "WORKFLOW" not in event_types:
            return None  # a nested sub-workflow's events are its node's business
        data: dict[str, Any] = {"id": event["id"], "state": state, "ts": event["timestamp"]}
        if state == "FULFILLED":
            data["outputs"] = typed_outputs(body.get("outputs") or {})
        elif state == "REJECTED":
            data["error"] = _error(body.get("error"))
        elif state == "STREAMING":
            output = body.get("output") or {}
            value = output.get("value", output.get("delta"))
            data["output"] = {
                "name": output.get("name", ""),
                "state": "STREAMING" if output.get("delta") is not None else "FULFILLED",
                "type": output_type(value).value,
                "value": value,
                "node_id": None,
            }
        return {**envelope, "type": "WORKFLOW", "data": data}
    if kind == "node.execution" and "NODE" in event_types:
        node_definition = body.get("node_definition") or {}
        data = {
            "id": event["id"],
            "node_id": str(node_definition.get("id", "")),
            "node_result_id": event["span_id"],
            "state": state,
            "ts": event["timestamp"],
            "data": None,
            "source_execution_id": None,
        }
        if state == "INITIATED":
            data["input_values"] = []
        elif state == "FULFILLED":
            data["output_values"] = []
        elif state == "REJECTED":
            data["error"] = _error(body.get("error"))
        return {**envelope, "type": "NODE", "data": data}
    return None
