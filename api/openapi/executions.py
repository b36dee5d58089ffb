"""The execution reads: Vellum's status and detail, with Runledger's additions."""

from __future__ import annotations

from api.openapi._build import (
    Json,
    answer,
    errors,
    nullable,
    obj,
    operation,
    path_parameter,
    query_parameter,
    ref,
)
from api.openapi.events import EXAMPLE_EVENT, UUID
from api.routes.executions import DEFAULT_SPAN_LIMIT, MAX_SPAN_LIMIT
from domain.actuals import OUTPUT_TYPES
from domain.lifecycle import ExecutionStatus

DATE_TIME: Json = {"type": "string", "format": "date-time"}
STATUSES = [status.value for status in ExecutionStatus]
SPAN_STATUSES = ["RUNNING", "FULFILLED", "REJECTED"]


def _typed_value(kind: str, value: Json) -> Json:
    return obj(
        {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "type": {"const": kind},
            "value": nullable(value) if value else {},
        },
        ("id", "name", "type", "value"),
    )


SCHEMAS: Json = {
    "ExecutionVellumValue": {
        "description": "Vellum's typed value (`ExecutionVellumValue`, `WorkflowOutput`): a "
        "string is STRING, a number NUMBER, anything else JSON.",
        "oneOf": [
            _typed_value("STRING", {"type": "string"}),
            _typed_value("NUMBER", {"type": "number"}),
            _typed_value("JSON", {}),
        ],
    },
    "Actual": obj(
        {
            "output_id": nullable({"type": "string"}),
            "output_key": nullable({"type": "string"}),
            "quality": nullable({"type": "number", "minimum": 0, "maximum": 1}),
            "desired_output_value": {},
            "output_type": nullable({"type": "string", "enum": sorted(OUTPUT_TYPES)}),
            "metadata": nullable({"type": "object"}),
            "timestamp": {
                **nullable({"type": "number"}),
                "description": "Epoch seconds; the time it was received when left out.",
            },
        },
        description="Vellum's `SubmitWorkflowExecutionActualRequest`: feedback on one output, "
        "by `output_key` or `output_id`.",
        additionalProperties=False,
        anyOf=[
            {"required": [name], "properties": {name: {"type": "string", "minLength": 1}}}
            for name in ("output_key", "output_id")
        ],
    ),
    "ExecutionNumber": nullable(
        {
            "type": "integer",
            "minimum": 1,
            "maximum": 2**53 - 1,
            "description": "Runledger's addition: the execution's stable integer id in its "
            "workspace, as Datalab's read takes it; null until the execution is listed.",
        }
    ),
    "Actuals": {
        "type": "array",
        "items": ref("Actual"),
        "description": "Runledger's addition, present once actuals were submitted: the "
        "newest per output.",
    },
    "StatusError": obj(
        {"message": nullable({"type": "string"}), "code": nullable({"type": "string"})},
        ("message", "code"),
        "Vellum's `CheckWorkflowExecutionStatusError`.",
    ),
    "CheckWorkflowExecutionStatusResponse": obj(
        {
            "status": {"type": "string", "enum": STATUSES},
            "execution_id": UUID,
            "outputs": nullable({"type": "object"}),
            "error": nullable(ref("StatusError")),
            "execution_detail_url": nullable({"type": "string"}),
            "actuals": ref("Actuals"),
            "unreadable": ref("Unreadable"),
        },
        ("status", "execution_id", "outputs", "error", "execution_detail_url"),
        "Vellum's `CheckWorkflowExecutionStatusResponse`, plus `actuals` and `unreadable`.",
    ),
    "Unreadable": {
        "type": "array",
        "description": "Runledger's addition, present only when a stored value was left out "
        "of the answer because its shape cannot hold it (what an older version accepted).",
        "items": obj(
            {
                "field": {"type": "string"},
                "reason": {"type": "string"},
                "span_id": UUID,
            },
            ("field", "reason"),
        ),
    },
    "WorkflowExecutionUsageResult": obj(
        {
            "usage": {"type": "array", "items": ref("MlModelUsageWrapper")},
            "cost": {"type": "array", "items": ref("Price")},
        },
        ("usage", "cost"),
        "The execution's usage summed per `ml_model_name` and its cost per `unit`, over all spans.",
    ),
    "SpanAttributes": obj(
        {
            "label": {"type": "string"},
            "workflow_id": {"type": "string"},
            "node_id": {"type": "string"},
        },
        ("label",),
        "`{label, workflow_id}` on a workflow span, `{label, node_id}` on a node span.",
    ),
    "VellumSpan": obj(
        {
            "name": {"type": "string", "enum": ["workflow.execution", "node.execution"]},
            "span_id": UUID,
            "parent_span_id": nullable(UUID),
            "start_ts": DATE_TIME,
            "end_ts": {
                **DATE_TIME,
                "description": "A span still running has its latest event's time here.",
            },
            "status": {
                "type": "string",
                "enum": SPAN_STATUSES,
                "description": "Runledger's addition.",
            },
            "attributes": ref("SpanAttributes"),
            "events": {
                "type": "array",
                "items": ref("WorkflowEvent"),
                "description": "The span's events as they were sent (snapshots left out).",
            },
            "usage_result": nullable(ref("UsageResult")),
        },
        (
            "name",
            "span_id",
            "parent_span_id",
            "start_ts",
            "end_ts",
            "status",
            "attributes",
            "events",
            "usage_result",
        ),
        "Vellum's `WorkflowExecutionSpan` or `NodeExecutionSpan`, plus `status`.",
    ),
    "WorkflowExecutionDetail": obj(
        {
            "span_id": UUID,
            "parent_context": nullable(ref("ParentContext")),
            "start": DATE_TIME,
            "end": nullable(DATE_TIME),
            "inputs": {"type": "array", "items": ref("ExecutionVellumValue")},
            "outputs": {"type": "array", "items": ref("ExecutionVellumValue")},
            "error": nullable(ref("EventError")),
            "usage_results": nullable(
                {"type": "array", "items": ref("WorkflowExecutionUsageResult")}
            ),
            "spans": {"type": "array", "items": ref("VellumSpan")},
            "state": nullable({"type": "object"}),
            "status": {"type": "string", "enum": STATUSES, "description": "Runledger's addition."},
            "has_more": {
                "type": "boolean",
                "description": "Runledger's addition: more spans follow this page.",
            },
            "number": ref("ExecutionNumber"),
            "actuals": ref("Actuals"),
            "unreadable": ref("Unreadable"),
            "inputs_url": {
                "type": "string",
                "format": "uri",
                "description": "Runledger's addition, with `payloads=links`: a signed link to "
                "the execution's inputs when the payload store holds them (`inputs` is then "
                "empty).",
            },
            "outputs_url": {
                "type": "string",
                "format": "uri",
                "description": "As `inputs_url`, for the outputs.",
            },
        },
        ("span_id", "start", "inputs", "outputs", "spans", "status", "has_more"),
        "Vellum's `WorkflowExecutionDetail` for one page of spans, plus `status`, `has_more`, "
        "`number`, `actuals` and `unreadable`.",
    ),
}

EXECUTION_ID = path_parameter(
    "execution_id", "The root workflow span's id.", UUID, EXAMPLE_EVENT["span_id"]
)
MIN_LOG_POSITION = query_parameter(
    "min_log_position",
    "Read your writes: wait (up to `RUNLEDGER_READ_WAIT_SECONDS`) until the position of this "
    "token, as ingest answered it, is visible. Another workspace's token, or a changed one, "
    "is a 400.",
    ref("PositionToken"),
)
READ_ERRORS = {
    "e400": "`execution_id` is not a UUID, or a query parameter is invalid (named in "
    "`errors[]`); `min_log_position` not a token of this workspace, or beyond the log's end.",
    "e404": "No such execution in the key's workspace.",
    "e503": "`min_log_position` was not visible within `RUNLEDGER_READ_WAIT_SECONDS`, or the "
    "log is unavailable.",
}

PATHS: Json = {
    "/v1/workflows/executions/{execution_id}/status": {
        "get": operation(
            "checkWorkflowExecutionStatus",
            "Check an execution's status",
            "The Prime summary: only the root workflow span decides the outcome; the earliest "
            "fulfilled or rejected event of it, by (timestamp, event id), is the one outcome.",
            "Executions",
            {
                "200": answer(
                    "The execution's status.", ref("CheckWorkflowExecutionStatusResponse")
                ),
                **errors(400, 401, 404, 503, **READ_ERRORS),
            },
            parameters=[EXECUTION_ID, MIN_LOG_POSITION],
        )
    },
    "/v1/workflow-executions/{execution_id}/detail": {
        "get": operation(
            "retrieveWorkflowExecutionDetail",
            "Read an execution's detail, a page of spans at a time",
            "Spans come in the order they were first seen in the log; `prev_span_id` is the "
            "last span of the previous page (exclusive). Walking every page returns each span "
            "exactly once, even while the execution keeps running.",
            "Executions",
            {
                "200": answer(
                    "One page of the execution's detail.", ref("WorkflowExecutionDetail")
                ),
                **errors(400, 401, 404, 503, **READ_ERRORS),
            },
            parameters=[
                EXECUTION_ID,
                query_parameter(
                    "prev_span_id",
                    "The keyset cursor: the last span of the previous page. A span not of this "
                    "execution is a 400.",
                    UUID,
                    empty_is_default=True,
                ),
                query_parameter(
                    "span_limit",
                    f"Spans per page (default {DEFAULT_SPAN_LIMIT}).",
                    {"type": "integer", "minimum": 1, "maximum": MAX_SPAN_LIMIT},
                    empty_is_default=True,
                ),
                query_parameter(
                    "payloads",
                    "`inline` (default): values the payload store holds (over "
                    "`RUNLEDGER_INLINE_PAYLOAD_BYTES`) are put back, every event as it was sent. "
                    "`links`: each is a signed link instead, `{payload_url, bytes}` in its event "
                    "and in `state`, and `inputs_url` / `outputs_url` for the execution's own.",
                    {"type": "string", "enum": ["inline", "links"]},
                    empty_is_default=True,
                ),
                MIN_LOG_POSITION,
            ],
        )
    },
}
