"""Finding executions without their ids: Runledger's list and counts, and Vellum's list of a
deployment's executions."""

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
from api.openapi.events import UUID
from api.openapi.executions import DATE_TIME, EXECUTION_ID, MIN_LOG_POSITION, STATUSES
from api.routes.deployment_executions import MAX_OFFSET
from api.routes.lists import DEFAULT_LIMIT, MAX_LIMIT
from projections.listing import GROUPS, OrderField
from projections.metrics import Interval

ORDERINGS = [name for field in OrderField for name in (field.value, f"-{field.value}")]
_GRAMMAR = (
    'A filter expression (README: "Finding executions"): fields `status`, `workflow`, '
    "`deployment`, `release_tag`, `release_id`, `external_id`, `metadata.<key>`, `started_at`, "
    "`ended_at`, `duration_ms`, `error.code`, `error.message`, `model`, `tokens`, `cost`, "
    "`trace_id`, `has_actuals`; operators `= != < <= > >= IN BETWEEN CONTAINS`, `AND OR NOT` "
    "and parentheses. For example `status = 'REJECTED' AND started_at >= '2026-12-01'`. A bad "
    "expression is a 400 naming the position and the token."
)
NUMBER: Json = {"type": "number"}
COUNT: Json = {"type": "integer", "minimum": 0}

SCHEMAS: Json = {
    "ExecutionListItem": obj(
        {
            "id": UUID,
            "number": {
                "type": "integer",
                "minimum": 1,
                "maximum": 2**53 - 1,
                "description": "The execution's stable integer id (Datalab's read takes it).",
            },
            "workflow": nullable({"type": "string"}),
            "status": {"type": "string", "enum": STATUSES},
            "started_at": DATE_TIME,
            "ended_at": nullable(DATE_TIME),
            "duration_ms": nullable(NUMBER),
            "error": nullable(
                obj(
                    {"message": nullable({"type": "string"}), "code": nullable({"type": "string"})},
                    ("message", "code"),
                )
            ),
            "deployment": nullable(
                obj({"id": nullable(UUID), "name": nullable({"type": "string"})}, ("id", "name"))
            ),
            "release_tag": nullable({"type": "string"}),
            "release_id": nullable(UUID),
            "external_id": nullable({"type": "string"}),
            "metadata": {"type": "object"},
            "trace_id": nullable(UUID),
            "usage": obj(
                {
                    "input_tokens": {"type": "integer", "minimum": 0},
                    "output_tokens": {"type": "integer", "minimum": 0},
                    "tokens": {"type": "integer", "minimum": 0},
                    "cost": obj(
                        {"value": NUMBER, "unit": {"type": "string", "enum": ["USD"]}},
                        ("value", "unit"),
                    ),
                    "models": {"type": "array", "items": {"type": "string"}},
                },
                ("input_tokens", "output_tokens", "tokens", "cost", "models"),
            ),
            "span_count": {"type": "integer", "minimum": 0},
            "has_actuals": {"type": "boolean"},
            "detail_url": {"type": "string"},
        },
        (
            "id",
            "number",
            "workflow",
            "status",
            "started_at",
            "ended_at",
            "duration_ms",
            "error",
            "deployment",
            "release_tag",
            "release_id",
            "external_id",
            "metadata",
            "trace_id",
            "usage",
            "span_count",
            "has_actuals",
            "detail_url",
        ),
        "One execution of a list. `started_at` is when it became known: a run's request, or "
        "its root span's first initiated event.",
    ),
    "ExecutionListPage": obj(
        {
            "results": {"type": "array", "items": ref("ExecutionListItem")},
            "next_cursor": nullable({"type": "string"}),
            "next": nullable({"type": "string"}),
        },
        ("results", "next_cursor", "next"),
        "A page of executions. A page may hold fewer than `limit` when the filter keeps few of "
        "the executions read; follow `next` until it is null.",
    ),
    "ExecutionCount": obj(
        {
            "count": {"type": "integer", "minimum": 0},
            "group_by": {"type": "string", "enum": list(GROUPS)},
            "groups": {
                "type": "array",
                "items": obj(
                    {
                        "value": nullable({"type": "string"}),
                        "count": {"type": "integer", "minimum": 0},
                    },
                    ("value", "count"),
                ),
            },
        },
        ("count",),
        "How many executions the filter keeps, and per group when `group_by` is given "
        "(largest first; an execution of two models counts in both).",
    ),
    "ExecutionMetrics": obj(
        {
            "interval": {"type": "string", "enum": [i.value for i in Interval]},
            "from": DATE_TIME,
            "to": DATE_TIME,
            "group_by": nullable({"type": "string", "enum": list(GROUPS)}),
            "buckets": {
                "type": "array",
                "items": obj(
                    {
                        "start": DATE_TIME,
                        "group": nullable({"type": "string"}),
                        "count": COUNT,
                        "fulfilled_count": COUNT,
                        "rejected_count": COUNT,
                        "error_rate": nullable({"type": "number", "minimum": 0, "maximum": 1}),
                        "duration_ms": obj(
                            {
                                "p50": nullable(NUMBER),
                                "p90": nullable(NUMBER),
                                "p99": nullable(NUMBER),
                            },
                            ("p50", "p90", "p99"),
                        ),
                        "input_tokens": COUNT,
                        "output_tokens": COUNT,
                        "cost": obj(
                            {"value": NUMBER, "unit": {"type": "string", "enum": ["USD"]}},
                            ("value", "unit"),
                        ),
                    },
                    (
                        "start",
                        "group",
                        "count",
                        "fulfilled_count",
                        "rejected_count",
                        "error_rate",
                        "duration_ms",
                        "input_tokens",
                        "output_tokens",
                        "cost",
                    ),
                ),
            },
        },
        ("interval", "from", "to", "group_by", "buckets"),
        "A time series: per bucket (by start) and group, how many executions there were and "
        "how they ended (`error_rate`: rejected among those that ended), their durations' "
        "quantiles, tokens and cost. Buckets without executions are left out.",
    ),
    "WorkflowExecutionActual": obj(
        {
            "output": ref("ExecutionVellumValue"),
            "timestamp": DATE_TIME,
            "quality": nullable(NUMBER),
            "metadata": nullable({"type": "object"}),
        },
        ("output", "timestamp"),
        "Vellum's `WorkflowExecutionActual`: the newest actual submitted.",
    ),
    "SlimWorkflowExecutionRead": obj(
        {
            "span_id": UUID,
            "start": DATE_TIME,
            "end": nullable(DATE_TIME),
            "inputs": {"type": "array", "items": ref("ExecutionVellumValue")},
            "outputs": {"type": "array", "items": ref("ExecutionVellumValue")},
            "error": nullable(ref("EventError")),
            "usage_results": nullable(
                {"type": "array", "items": ref("WorkflowExecutionUsageResult")}
            ),
            "parent_context": nullable(ref("ParentContext")),
            "latest_actual": nullable(ref("WorkflowExecutionActual")),
            "metric_results": {"type": "array", "maxItems": 0},
            "status": {"type": "string", "enum": STATUSES, "description": "Runledger's addition."},
        },
        ("span_id", "start", "inputs", "outputs", "metric_results", "status"),
        "Vellum's `SlimWorkflowExecutionRead`, plus `status`.",
    ),
    "WorkflowEventExecutionRead": {
        "description": "Vellum's `WorkflowEventExecutionRead`: the execution's detail with up "
        "to 1,000 spans, its newest actual and (none) metric results.",
        "allOf": [
            ref("WorkflowExecutionDetail"),
            obj(
                {
                    "latest_actual": nullable(ref("WorkflowExecutionActual")),
                    "metric_results": {"type": "array", "maxItems": 0},
                },
                ("metric_results",),
            ),
        ],
    },
    "WorkflowDeploymentEventExecutionsResponse": obj(
        {
            "count": {"type": "integer", "minimum": 0},
            "results": {"type": "array", "items": ref("SlimWorkflowExecutionRead")},
        },
        ("count", "results"),
        "Vellum's `WorkflowDeploymentEventExecutionsResponse`.",
    ),
}

_Q = query_parameter("q", _GRAMMAR, {"type": "string", "maxLength": 4096})
_LIST_ERRORS = errors(
    400,
    401,
    503,
    e400="`q` (or `filters`) is not an expression of the grammar, or a parameter is out of "
    "range: `errors[]` names it, with the position and the token.",
)
_LIMIT = query_parameter(
    "limit",
    f"Executions per page (default {DEFAULT_LIMIT}).",
    {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    empty_is_default=True,
)


def _group_by(description: str) -> Json:
    return query_parameter(
        "group_by", description, {"type": "string", "enum": list(GROUPS)}, empty_is_default=True
    )


_DEPLOYMENT = path_parameter("id", "The deployment's id or name.", example="summarize")

PATHS: Json = {
    "/v1/workflow-executions": {
        "get": operation(
            "listWorkflowExecutions",
            "List and search the workspace's executions",
            "Newest first by default; keyset pages with an opaque cursor. Walking every page in "
            "start order returns each execution once, even while events keep arriving.",
            "Lists",
            {"200": answer("A page of executions.", ref("ExecutionListPage")), **_LIST_ERRORS},
            parameters=[
                _Q,
                query_parameter(
                    "ordering",
                    "What the page is ordered by; `-` for descending (default `-started_at`). "
                    "Executions without the value (not ended) come last either way.",
                    {"type": "string", "enum": ORDERINGS},
                    empty_is_default=True,
                ),
                _LIMIT,
                query_parameter(
                    "cursor",
                    "The `next_cursor` of the previous page, of the same ordering.",
                    {"type": "string"},
                    empty_is_default=True,
                ),
                MIN_LOG_POSITION,
            ],
        )
    },
    "/v1/workflow-executions/count": {
        "get": operation(
            "countWorkflowExecutions",
            "Count the workspace's executions, per group",
            "Temporal's CountWorkflowExecutions with GROUP BY.",
            "Lists",
            {"200": answer("The counts.", ref("ExecutionCount")), **_LIST_ERRORS},
            parameters=[
                _Q,
                _group_by("The field to count per value of."),
                MIN_LOG_POSITION,
            ],
        )
    },
    "/v1/workflow-executions/metrics": {
        "get": operation(
            "workflowExecutionMetrics",
            "A time series of the workspace's executions",
            "Langfuse's metrics API is the model. The range is `[from, to)` by start (default: "
            "the 24 hours before now), at most 10,000 buckets.",
            "Lists",
            {"200": answer("The series.", ref("ExecutionMetrics")), **_LIST_ERRORS},
            parameters=[
                _Q,
                _group_by("The field to split each bucket by."),
                query_parameter(
                    "interval",
                    "A bucket's length (default `hour`).",
                    {"type": "string", "enum": [i.value for i in Interval]},
                    empty_is_default=True,
                ),
                query_parameter(
                    "from",
                    "The first start included, ISO-8601 (default: 24 hours before `to`).",
                    {"type": "string"},
                    empty_is_default=True,
                ),
                query_parameter(
                    "to",
                    "The start the range stops before, ISO-8601 (default: now).",
                    {"type": "string"},
                    empty_is_default=True,
                ),
                MIN_LOG_POSITION,
            ],
        )
    },
    "/v1/workflow-deployments/{id}/execution-events": {
        "get": operation(
            "listWorkflowDeploymentEventExecutions",
            "List a deployment's executions (Vellum)",
            "The runs of the deployment and the ingested executions whose parent context "
            "names it, newest first by default, paged by `limit` and `offset`.",
            "Lists",
            {
                "200": answer(
                    "A page of the deployment's executions.",
                    ref("WorkflowDeploymentEventExecutionsResponse"),
                ),
                **errors(
                    400,
                    401,
                    404,
                    503,
                    e400="`filters` is not an expression of the grammar, or a parameter is out "
                    "of range.",
                    e404="No such deployment in the workspace.",
                ),
            },
            parameters=[
                _DEPLOYMENT,
                query_parameter("filters", _GRAMMAR, {"type": "string", "maxLength": 4096}),
                _LIMIT,
                query_parameter(
                    "offset",
                    "Executions to skip (default 0).",
                    {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                    empty_is_default=True,
                ),
                query_parameter(
                    "ordering",
                    "As the list's `ordering` (default `-started_at`).",
                    {"type": "string", "enum": ORDERINGS},
                    empty_is_default=True,
                ),
            ],
        )
    },
    "/v1/workflow-deployments/{id}/execution-events/{execution_id}": {
        "get": operation(
            "retrieveWorkflowDeploymentEventExecution",
            "Read one of a deployment's executions (Vellum)",
            "With up to 1,000 spans; an execution of another deployment is a 404.",
            "Lists",
            {
                "200": answer("The execution.", ref("WorkflowEventExecutionRead")),
                **errors(
                    400,
                    401,
                    404,
                    503,
                    e400="`execution_id` is not a UUID.",
                    e404="No such deployment, or no such execution of it, in the workspace.",
                ),
            },
            parameters=[_DEPLOYMENT, EXECUTION_ID],
        )
    },
}
