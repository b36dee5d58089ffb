"""An execution's history (api/routes/history.py)."""

from __future__ import annotations

from api.openapi._build import Json, errors, obj, operation, query_parameter, ref
from api.openapi.executions import EXECUTION_ID, MIN_LOG_POSITION, READ_ERRORS
from api.routes.history import DEFAULT_LIMIT, MAX_WAIT_SECONDS, NDJSON
from api.routes.lists import MAX_LIMIT

SCHEMAS: Json = {
    "HistoryEvent": obj(
        {
            "log_position": ref("PositionToken"),
            "received_at": {"type": "string", "format": "date-time"},
            "event": {
                "type": "object",
                "description": "The event exactly as it was sent (in the JSON answer byte for "
                "byte; in NDJSON its line breaks, JSON whitespace, are spaces).",
            },
        },
        ("log_position", "received_at", "event"),
        "One stored event of the execution: where the log holds it (a token, as every "
        "position a workspace sees), when it was received, what was sent.",
    ),
    "ExecutionHistory": obj(
        {
            "data": {"type": "array", "items": ref("HistoryEvent")},
            "has_more": {"type": "boolean"},
            "next_after_position": {
                "anyOf": [ref("PositionToken"), {"type": "null"}],
                "description": "`after_position` for the next page: the last event's, or the "
                "one given when the page is empty (a tail polls again from there).",
            },
        },
        ("data", "has_more", "next_after_position"),
    ),
}

PATHS: Json = {
    "/v1/workflow-executions/{execution_id}/events": {
        "get": operation(
            "listWorkflowExecutionEvents",
            "Read an execution's history, as stored",
            "Every stored event of the execution (its sub-workflows' included) in log order, "
            "keyset-paged by position. `wait` makes it a long poll: it answers as soon as an "
            "event after `after_position` is stored and visible, or with an empty page when the "
            f"wait ends. With `Accept: {NDJSON}` the whole history streams, one line an event.",
            "Executions",
            {
                "200": {
                    "description": "A page of the history, or all of it as NDJSON.",
                    "content": {
                        "application/json": {"schema": ref("ExecutionHistory")},
                        NDJSON: {"schema": ref("HistoryEvent")},
                    },
                },
                **errors(400, 401, 404, 503, **READ_ERRORS),
            },
            parameters=[
                EXECUTION_ID,
                query_parameter(
                    "after_position",
                    "The keyset cursor: a `log_position` (or `next_after_position`) of this "
                    "history; the page holds the events after it in the page's order.",
                    ref("PositionToken"),
                ),
                query_parameter(
                    "limit",
                    f"Events per page (default {DEFAULT_LIMIT}).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    empty_is_default=True,
                ),
                query_parameter(
                    "order",
                    "`asc` (oldest first, the default) or `desc`.",
                    {"type": "string", "enum": ["asc", "desc"]},
                    empty_is_default=True,
                ),
                query_parameter(
                    "wait",
                    f"Seconds (up to {MAX_WAIT_SECONDS:.0f}) to wait for an event newer than "
                    "`after_position`; only with `order=asc`, and not with an NDJSON stream.",
                    {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS},
                    empty_is_default=True,
                ),
                MIN_LOG_POSITION,
            ],
        )
    },
}
