"""Velt's and Datalab's execution reads, and the signed payload links Datalab's answer holds."""

from __future__ import annotations

from api.openapi._build import (
    Json,
    answer,
    json_body,
    json_content,
    nullable,
    obj,
    operation,
    path_parameter,
    ref,
)
from api.openapi.events import UUID
from api.routes.velt import MAX_STEP_LIMIT

VELT_KEY = "VeltApiKey"
EPOCH_MS: Json = {"type": "integer", "description": "Milliseconds since the epoch."}
NAIVE_UTC: Json = {"type": "string", "description": "ISO 8601, UTC, without a zone."}
VELT_STATUSES = ["queued", "running", "completed", "failed", "cancelled"]
DATALAB_STATUSES = ["QUEUED", "PENDING", "IN_PROGRESS", "COMPLETED", "FAILED"]
ANY_JSON: Json = {}

SCHEMAS: Json = {
    "VeltGetExecutionRequest": obj(
        {
            "data": obj(
                {
                    "executionId": {"type": "string", "format": "uuid"},
                    "stepCursor": nullable({"type": "string", "format": "uuid"}),
                    "stepLimit": {"type": "integer", "minimum": 1, "maximum": MAX_STEP_LIMIT},
                    "outputs": {
                        "type": "string",
                        "enum": ["inline", "links"],
                        "description": "`links`: completed steps carry `outputUrl`, a signed "
                        "link to their outputs, and `output` null; the outputs are not read.",
                    },
                },
                ("executionId",),
            )
        },
        ("data",),
        "Velt's request: the execution, and (Runledger's additions) the page of its steps "
        "(`stepCursor` is the `nextStepCursor` of the previous page) and how outputs come.",
    ),
    "VeltStep": obj(
        {
            "stepId": UUID,
            "nodeId": nullable({"type": "string"}),
            "nodeType": nullable({"type": "string"}),
            "status": {"type": "string", "enum": ["running", "completed", "failed", "cancelled"]},
            "groupId": nullable(UUID),
            "startedAt": nullable(EPOCH_MS),
            "completedAt": nullable(EPOCH_MS),
            "output": ANY_JSON,
            "error": ANY_JSON,
            "outputUrl": nullable(
                {
                    "type": "string",
                    "description": "With `outputs: links` only: the completed step's link.",
                }
            ),
        },
        (
            "stepId",
            "nodeId",
            "nodeType",
            "status",
            "groupId",
            "startedAt",
            "completedAt",
            "output",
            "error",
        ),
        "One node span: its node definition's id and name, the span it runs inside (null at "
        "the top level), its outputs or error.",
    ),
    "VeltExecutionView": obj(
        {
            "result": obj(
                {
                    "executionId": UUID,
                    "status": {"type": "string", "enum": VELT_STATUSES},
                    "startedAt": nullable(EPOCH_MS),
                    "completedAt": nullable(EPOCH_MS),
                    "cancelledAt": nullable(EPOCH_MS),
                    "definitionId": nullable({"type": "string"}),
                    "definitionVersion": nullable({"type": "integer", "minimum": 1}),
                    "correlationId": nullable({"type": "string"}),
                    "idempotencyKey": nullable({"type": "string"}),
                    "failureReason": nullable({"type": "string"}),
                    "steps": {"type": "array", "items": ref("VeltStep")},
                    "nextStepCursor": nullable(UUID),
                },
                (
                    "executionId",
                    "status",
                    "startedAt",
                    "completedAt",
                    "cancelledAt",
                    "definitionId",
                    "definitionVersion",
                    "correlationId",
                    "idempotencyKey",
                    "failureReason",
                    "steps",
                    "nextStepCursor",
                ),
            )
        },
        ("result",),
        "Velt's `ExecutionView`, plus `nextStepCursor` (null on the last page of steps).",
    ),
    "VeltError": obj(
        {
            "error": obj(
                {
                    "message": {"type": "string"},
                    "status": {
                        "type": "string",
                        "enum": [
                            "INVALID_ARGUMENT",
                            "UNAUTHENTICATED",
                            "NOT_FOUND",
                            "UNAVAILABLE",
                            "INTERNAL",
                        ],
                    },
                },
                ("message", "status"),
            )
        },
        ("error",),
        "Velt's error shape.",
    ),
    "DatalabStep": obj(
        {
            "status": {"type": "string", "enum": ["IN_PROGRESS", "COMPLETED", "FAILED"]},
            "started_at": nullable(NAIVE_UTC),
            "completed_at": nullable(NAIVE_UTC),
            "output_url": {
                "type": "string",
                "description": "A signed link to the step's outputs (its error when it failed), "
                "good for `RUNLEDGER_PAYLOAD_URL_SECONDS`.",
            },
        },
        ("status", "started_at"),
    ),
    "DatalabExecutionStatus": obj(
        {
            "execution_id": {"type": "integer", "minimum": 1},
            "workflow_id": {"type": "integer", "minimum": 1},
            "status": {"type": "string", "enum": DATALAB_STATUSES},
            "created": nullable(NAIVE_UTC),
            "updated": nullable(NAIVE_UTC),
            "steps": {"type": "object", "additionalProperties": ref("DatalabStep")},
        },
        ("execution_id", "workflow_id", "status", "created", "updated", "steps"),
        "Datalab's execution status; `steps` by each node's unique name.",
    ),
    "DatalabValidationError": obj(
        {
            "detail": {
                "type": "array",
                "items": obj(
                    {
                        "loc": {
                            "type": "array",
                            "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                        },
                        "msg": {"type": "string"},
                        "type": {"type": "string"},
                    },
                    ("loc", "msg", "type"),
                ),
            }
        },
        ("detail",),
        "Datalab's (FastAPI's) validation error.",
    ),
}


def _velt_error(description: str) -> Json:
    return answer(description, ref("VeltError"))


PATHS: Json = {
    "/v2/workflow/executions/get": {
        "post": operation(
            "veltGetExecution",
            "Read an execution in Velt's shape",
            "Velt's `ExecutionView` of an execution and one page of its steps (node spans, in "
            "the order they reached the log). The key is a Runledger API key in "
            "`x-velt-api-key`; `x-velt-auth-token` is accepted and ignored.",
            "Executions",
            {
                "200": answer("The execution and a page of its steps.", ref("VeltExecutionView")),
                "400": _velt_error("INVALID_ARGUMENT: the message names the field."),
                "401": _velt_error("UNAUTHENTICATED: the key is missing or not accepted."),
                "404": _velt_error("NOT_FOUND: no such execution in the key's workspace."),
                "413": _velt_error("INVALID_ARGUMENT: the body is over the limit."),
                "503": _velt_error("UNAVAILABLE: retry shortly."),
                "500": _velt_error("INTERNAL: the message carries the error id."),
            },
            body=json_body(ref("VeltGetExecutionRequest"), "The execution to read."),
            security=VELT_KEY,
        )
    },
    "/api/v1/workflows/executions/{execution_id}": {
        "get": operation(
            "datalabGetExecutionStatus",
            "Read an execution in Datalab's shape",
            "Datalab's execution status by the execution's number (the `number` of the list "
            "and the detail); each finished step's output behind a signed link.",
            "Executions",
            {
                "200": answer("The execution's status and steps.", ref("DatalabExecutionStatus")),
                "401": answer("The key is missing or not accepted.", ref("Error")),
                "404": answer("No execution of that number in the key's workspace.", ref("Error")),
                "422": answer("The id is not an integer.", ref("DatalabValidationError")),
                "503": answer("A wait timed out; retry.", ref("Error")),
                "500": answer("An internal error.", ref("InternalError")),
            },
            parameters=[
                path_parameter("execution_id", "The execution's number.", {"type": "integer"}, "1")
            ],
        )
    },
    "/v1/payloads/{token}": {
        "get": operation(
            "getPayload",
            "Read a stored value behind a signed link",
            "The JSON of one value (a step's outputs or error) exactly as it was sent. The "
            "link is its own credential; a request that carries `X-API-KEY` must carry one of "
            "the link's workspace.",
            "Executions",
            {
                "200": {
                    "description": "The value.",
                    "content": json_content(ANY_JSON),
                },
                "403": answer(
                    "The link is forged, altered or expired, or the key is another "
                    "workspace's; the answer does not say which.",
                    ref("Error"),
                ),
                "401": answer("The key given is not accepted.", ref("Error")),
                "404": answer("The span has no such value.", ref("Error")),
                "503": answer("A wait timed out; retry.", ref("Error")),
                "500": answer("An internal error.", ref("InternalError")),
            },
            parameters=[path_parameter("token", "The link's signed token.")],
            security=None,
        )
    },
}
