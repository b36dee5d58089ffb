"""`POST /monitoring/v1/events` and the event shapes: what ingest accepts, as it checks it.

The request schemas say exactly what `domain/envelope.py` and `domain/usage.py` enforce, no
more: an event's body is kept as sent, so its other fields are free. Detail pages serve the
stored events, so `WorkflowEvent` is also the shape of a span's `events`.
"""

from __future__ import annotations

from api.openapi._build import (
    Json,
    errors,
    json_body,
    json_content,
    nullable,
    obj,
    operation,
    ref,
)
from domain.envelope import MAX_NESTING
from domain.lineage import MAX_PARENT_DEPTH
from domain.usage import COST_UNITS, MAX_COST, MAX_COUNT, USAGE_COUNT_FIELDS
from domain.vocabulary import EventName

WORKFLOW_NAMES = [name.value for name in EventName if name.is_workflow]
NODE_NAMES = [name.value for name in EventName if not name.is_workflow]
_REJECTED = [name.value for name in (EventName.WORKFLOW_REJECTED, EventName.NODE_REJECTED)]
_SPAN_CONTEXTS = ["WORKFLOW", "WORKFLOW_NODE"]

UUID: Json = {"type": "string", "format": "uuid"}

EXAMPLE_EVENT: Json = {
    "id": "5a0d7e0a-1111-4111-8111-111111111111",
    "name": "workflow.execution.initiated",
    "timestamp": "2026-11-23T12:00:00Z",
    "api_version": "2024-10-25",
    "trace_id": "5a0d7e0a-1111-4111-8111-111111111112",
    "span_id": "5a0d7e0a-1111-4111-8111-111111111113",
    "parent": None,
    "body": {"inputs": {"text": "hi"}},
}


def _context(type_schema: Json, span_id: Json, description: str, parent: Json) -> Json:
    return obj(
        {"type": type_schema, "span_id": span_id, "parent": parent},
        ("type", "span_id"),
        description,
    )


SCHEMAS: Json = {
    "LogPosition": {
        "type": "integer",
        "minimum": 0,
        "description": "A position in the event log, as operators see it (the admin token).",
    },
    "PositionToken": {
        "type": "string",
        "pattern": "^[A-Za-z0-9_-]{32}$",
        "description": "A log position as a workspace sees it: an opaque token, new for every "
        "answer and bound to the workspace. Ingest answers where its batch ends; reads given "
        "it as `min_log_position` wait until it is visible.",
        "examples": ["Xq0m2b1w9VQxq3W8cHh0Jt8Hn5Yc1lVg"],
    },
    "WorkflowParentContext": _context(
        {"const": "WORKFLOW"},
        UUID,
        "A workflow span; the outermost one in an event's chain names its execution.",
        nullable(ref("ParentContext")),
    ),
    "SpanParentContext": _context(
        {"type": "string", "enum": _SPAN_CONTEXTS},
        UUID,
        "A context naming a span of the trace (`WORKFLOW`, `WORKFLOW_NODE`): its `span_id` is "
        "a UUID.",
        nullable(ref("ParentContext")),
    ),
    "ForeignParentContext": _context(
        {"type": "string", "not": {"enum": _SPAN_CONTEXTS}},
        {"type": "string"},
        "Any other context (`WORKFLOW_RELEASE_TAG`, `EXTERNAL`, `API_REQUEST`, ...): its "
        "`span_id` is the caller's own string.",
        nullable(ref("ParentContext")),
    ),
    "ParentContext": {
        "description": "Vellum's parent context chain, nearest first: the other fields of each "
        f"context are kept as sent. At most {MAX_PARENT_DEPTH} contexts deep.",
        "anyOf": [ref("SpanParentContext"), ref("ForeignParentContext")],
    },
    "ParentChainWithWorkflow": {
        "description": "A context chain holding a `WORKFLOW` context somewhere: a node event's "
        "execution is its outermost one.",
        "anyOf": [
            ref("WorkflowParentContext"),
            {
                "allOf": [
                    ref("ParentContext"),
                    obj({"parent": ref("ParentChainWithWorkflow")}, ("parent",)),
                ]
            },
        ],
    },
    "SpanLink": obj(
        {
            "trace_id": {"type": "string"},
            "type": {"type": "string", "examples": ["TRIGGERED_BY", "PREVIOUS_SPAN", "ROOT_SPAN"]},
            "span_context": {"type": "object"},
        },
        ("trace_id", "type", "span_context"),
        "Vellum's `SpanLink`.",
    ),
    "MlModelUsage": obj(
        {
            name: nullable({"type": "integer", "minimum": 0, "maximum": MAX_COUNT})
            for name in USAGE_COUNT_FIELDS
        },
        description="Vellum's `MlModelUsage`: each count a whole number (at most 2^53 - 1), "
        "written without a fraction (`12`, not `12.0`).",
    ),
    "MlModelUsageWrapper": obj(
        {"ml_model_name": {"type": "string"}, "ml_model_usage": ref("MlModelUsage")},
        ("ml_model_name", "ml_model_usage"),
    ),
    "Price": obj(
        {
            "value": {"type": "number", "minimum": -MAX_COST, "maximum": MAX_COST},
            "unit": {"type": "string", "enum": sorted(COST_UNITS)},
        },
        ("value",),
        "Vellum's `Price`.",
    ),
    "UsageResult": obj(
        {
            "usage": {"type": "array", "items": ref("MlModelUsageWrapper")},
            "cost": {"type": "array", "items": ref("Price")},
        },
        ("usage", "cost"),
        "Vellum's `WorkflowExecutionUsageCalculationFulfilledBody`: a node's usage and cost.",
    ),
    "EventError": obj(
        {
            "message": {"type": "string"},
            "code": {"type": "string", "examples": ["NODE_EXECUTION", "WORKFLOW_CANCELLED"]},
        },
        ("message", "code"),
        "A rejection's error, kept as sent: Vellum's `WorkflowEventError` (`message`, `code`, "
        "`raw_data`, `stacktrace`), which the official client reads from detail pages.",
    ),
    "EventBody": obj(
        {
            "inputs": nullable({"type": "object"}),
            "outputs": nullable({"type": "object"}),
            "usage_result": nullable(ref("UsageResult")),
        },
        description="The event's body, kept as sent. `inputs` and `outputs` are objects of "
        "name to value; a `*.rejected` event's `error` is an object (`EventError`).",
    ),
    "WorkflowEvent": {
        "description": "One of Vellum's `WorkflowEvent`s, as Runledger checks it: the envelope "
        "fields, the parent chain and the body's `inputs`, `outputs`, `error` and "
        "`usage_result`; everything else is stored as sent, byte for byte. Objects and arrays "
        f"nest at most {MAX_NESTING} levels in an event.",
        "allOf": [
            obj(
                {
                    "id": {**UUID, "description": "The idempotency key."},
                    "name": {"type": "string", "enum": [*WORKFLOW_NAMES, *NODE_NAMES]},
                    "timestamp": {
                        "type": "string",
                        "format": "date-time",
                        "description": "ISO-8601 with a time zone.",
                    },
                    "api_version": nullable({"type": "string", "examples": ["2024-10-25"]}),
                    "trace_id": UUID,
                    "span_id": UUID,
                    "parent": nullable(ref("ParentContext")),
                    "links": nullable({"type": "array", "items": ref("SpanLink")}),
                    "body": ref("EventBody"),
                },
                ("id", "name", "timestamp", "trace_id", "span_id", "body"),
            ),
            {
                "if": obj({"name": {"enum": NODE_NAMES}}, ("name",)),
                "then": obj({"parent": ref("ParentChainWithWorkflow")}, ("parent",)),
            },
            {
                "if": obj({"name": {"enum": _REJECTED}}, ("name",)),
                "then": obj({"body": obj({"error": nullable(ref("EventError"))})}),
            },
        ],
        "example": EXAMPLE_EVENT,
    },
    "EventCreateResponse": obj(
        {
            "success": {"type": "boolean", "const": True},
            "count": {"type": "integer", "minimum": 0, "description": "Events received."},
            "accepted_count": {"type": "integer", "minimum": 0, "description": "New events."},
            "duplicate_count": {
                "type": "integer",
                "minimum": 0,
                "description": "Events already in the log, or repeated within the request.",
            },
            "log_position": {
                **ref("PositionToken"),
                "description": "Where the batch ends in the log, as a token.",
            },
        },
        ("success", "count", "accepted_count", "duplicate_count", "log_position"),
        "Vellum's `EventCreateResponse` (`success`, `count`) and Runledger's additions.",
    ),
}

PATHS: Json = {
    "/monitoring/v1/events": {
        "post": operation(
            "createEvents",
            "Record workflow events",
            "The path the official client's `events.create` uses. The batch is validated "
            "whole: an invalid event names itself by `index`, `field` and `reason` and nothing "
            "of the batch is stored. The answer comes after the batch is durably in the log; "
            "the event `id` is the idempotency key.",
            "Ingest",
            {
                "200": {
                    "description": "The batch is durably in the log.",
                    "content": json_content(
                        ref("EventCreateResponse"),
                        {
                            "success": True,
                            "count": 1,
                            "accepted_count": 1,
                            "duplicate_count": 0,
                            "log_position": 2,
                        },
                    ),
                },
                **errors(
                    400,
                    401,
                    413,
                    503,
                    e400="An event is invalid (nothing of the batch is stored), or the body is "
                    "not JSON, not UTF-8, or holds more than `RUNLEDGER_MAX_BATCH_EVENTS` events.",
                ),
            },
            body=json_body(
                {
                    "anyOf": [
                        ref("WorkflowEvent"),
                        {"type": "array", "items": ref("WorkflowEvent")},
                    ]
                },
                "One event, or an array of them.",
                [EXAMPLE_EVENT],
            ),
        )
    }
}
