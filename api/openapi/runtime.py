"""Running deployed workflows: execute, cancel, state and actuals, in Vellum's shapes."""

from __future__ import annotations

from api.openapi._build import (
    Json,
    answer,
    errors,
    json_body,
    nullable,
    obj,
    operation,
    path_parameter,
    ref,
)
from api.openapi.deployments import ID_OR_NAME
from api.openapi.events import EXAMPLE_EVENT, UUID
from api.openapi.executions import DATE_TIME, EXECUTION_ID, STATUSES
from api.run_requests import EVENT_TYPES
from domain.vellum_values import VellumType

_NON_EMPTY: Json = {"type": "string", "pattern": r"\S"}
_NDJSON = "application/x-ndjson"

_WORKFLOW_ERROR = obj(
    {
        "message": {"type": "string"},
        "code": {"type": "string", "examples": ["WORKFLOW_CANCELLED", "WORKFLOW_TIMEOUT"]},
        "raw_data": {},
        "stacktrace": nullable({"type": "string"}),
    },
    ("message", "code"),
    "Vellum's `WorkflowEventError`.",
)

_RUN_FIELDS: Json = {
    "release_tag": {
        **nullable(_NON_EMPTY),
        "description": "A release tag or release id (default `LATEST`).",
    },
    "external_id": {
        **nullable(_NON_EMPTY),
        "description": "Unique within the workspace: the same request again answers the "
        "execution it started; a different one is a 409.",
    },
    "metadata": nullable({"type": "object"}),
    "previous_execution_id": {
        **nullable(UUID),
        "description": "Load that execution's final state as this run's initial state.",
    },
}

SCHEMAS: Json = {
    "WorkflowError": _WORKFLOW_ERROR,
    "WorkflowRequestInput": obj(
        {
            "name": {"type": "string"},
            "type": {"type": "string", "examples": [kind.value for kind in VellumType]},
            "value": {},
        },
        ("name", "type"),
        "Vellum's `WorkflowRequestInputRequest`: a typed input value.",
    ),
    "ExecuteWorkflowRequest": obj(
        {
            "inputs": {"type": "array", "items": ref("WorkflowRequestInput")},
            "workflow_deployment_id": nullable(_NON_EMPTY),
            "workflow_deployment_name": nullable(_NON_EMPTY),
            **_RUN_FIELDS,
            "event_types": {
                **nullable(
                    {"type": "array", "items": {"type": "string", "enum": sorted(EVENT_TYPES)}}
                ),
                "description": 'Streams only: which events to send (default `["WORKFLOW"]`).',
            },
        },
        description="Vellum's execute request: the deployment by id or name, typed inputs "
        "checked against what the release's entrypoint declares.",
        anyOf=[
            {
                "required": ["workflow_deployment_id"],
                "properties": {"workflow_deployment_id": _NON_EMPTY},
            },
            {
                "required": ["workflow_deployment_name"],
                "properties": {"workflow_deployment_name": _NON_EMPTY},
            },
        ],
        example={
            "workflow_deployment_name": "summarize",
            "inputs": [{"name": "text", "type": "STRING", "value": "the quick brown fox"}],
        },
    ),
    "ExecuteStreamRequest": obj(
        {
            "inputs": {**nullable({"type": "object"}), "description": "`{name: value}`."},
            **_RUN_FIELDS,
        },
        description="The native execute-stream request: inputs as plain values.",
        example={"inputs": {"text": "hi"}},
    ),
    "FulfilledExecuteWorkflowResult": obj(
        {
            "id": {"type": "string"},
            "state": {"const": "FULFILLED"},
            "ts": DATE_TIME,
            "outputs": {"type": "array", "items": ref("ExecutionVellumValue")},
        },
        ("id", "state", "ts", "outputs"),
    ),
    "RejectedExecuteWorkflowResult": obj(
        {
            "id": {"type": "string"},
            "state": {"const": "REJECTED"},
            "ts": DATE_TIME,
            "error": ref("WorkflowError"),
        },
        ("id", "state", "ts", "error"),
    ),
    "ExecuteWorkflowResponse": obj(
        {
            "execution_id": UUID,
            "run_id": {"type": "null"},
            "external_id": nullable({"type": "string"}),
            "data": {
                "oneOf": [
                    ref("FulfilledExecuteWorkflowResult"),
                    ref("RejectedExecuteWorkflowResult"),
                ]
            },
        },
        ("execution_id", "data"),
        "Vellum's `ExecuteWorkflowResponse`.",
    ),
    "ExecuteWorkflowAsyncResponse": obj(
        {"execution_id": UUID}, ("execution_id",), "Vellum's `ExecuteWorkflowAsyncResponse`."
    ),
    "WorkflowStreamEvent": obj(
        {
            "execution_id": UUID,
            "run_id": {"type": "null"},
            "external_id": nullable({"type": "string"}),
            "type": {"type": "string", "enum": sorted(EVENT_TYPES)},
            "data": obj(
                {
                    "id": {"type": "string"},
                    "state": {"type": "string", "enum": STATUSES},
                    "ts": {"type": "string"},
                    "outputs": {"type": "array", "items": ref("ExecutionVellumValue")},
                    "error": ref("WorkflowError"),
                    "node_id": {"type": "string"},
                    "node_result_id": {"type": "string"},
                },
                ("id", "state", "ts"),
            ),
        },
        ("execution_id", "type", "data"),
        "Vellum's `WorkflowStreamEvent`: a WORKFLOW result event (`WorkflowResultEvent`) or a "
        "NODE one (`WorkflowNodeResultEvent`).",
    ),
    "CancelResponse": obj(
        {
            "execution_id": UUID,
            "status": {"const": "CANCELLING"},
            "cancelled_at": nullable(DATE_TIME),
        },
        ("execution_id", "status", "cancelled_at"),
    ),
    "WorkflowResolvedState": obj(
        {
            "trace_id": UUID,
            "timestamp": DATE_TIME,
            "span_id": UUID,
            "state": {"type": "object"},
            "previous_trace_id": nullable(UUID),
            "previous_span_id": nullable(UUID),
            "root_trace_id": nullable(UUID),
            "root_span_id": nullable(UUID),
        },
        ("trace_id", "timestamp", "span_id", "state"),
        "Vellum's `WorkflowResolvedState`: the execution's newest state snapshot.",
    ),
    "SubmitActualsRequest": obj(
        {
            "actuals": {"type": "array", "minItems": 1, "items": ref("Actual")},
            "execution_id": nullable(UUID),
            "external_id": nullable({"type": "string"}),
        },
        ("actuals",),
        "Vellum's actuals request: the execution by `execution_id` or `external_id`.",
        anyOf=[
            {"required": ["execution_id"], "properties": {"execution_id": UUID}},
            {
                "required": ["external_id"],
                "properties": {"external_id": {"type": "string", "minLength": 1}},
            },
        ],
        example={
            "execution_id": "5a0d7e0a-1111-4111-8111-111111111113",
            "actuals": [{"output_key": "summary", "quality": 1.0}],
        },
    ),
    "ExternalIdConflict": {
        "allOf": [ref("Error"), obj({"execution_id": UUID}, ("execution_id",))],
        "description": "The `external_id` names an execution started with a different request.",
    },
}

_EXECUTE_ERRORS = {
    "e400": "The body is invalid; each bad input is named (`errors[].field` = `inputs.<name>`).",
    "e404": "No such deployment, or no release with that tag, in the workspace.",
}


def _execute_errors() -> Json:
    conflict = answer(
        "The `external_id` names an execution started with a different request.",
        ref("ExternalIdConflict"),
    )
    return {**errors(400, 401, 404, 413, 503, **_EXECUTE_ERRORS), "409": conflict}


def _stream(description: str, item: str) -> Json:
    return {
        "description": description + " One JSON value per line (newline-delimited JSON).",
        "content": {_NDJSON: {"schema": {"type": "array", "items": ref(item)}}},
    }


_EXECUTE_BODY = json_body(ref("ExecuteWorkflowRequest"), "What to run, and with what.")

PATHS: Json = {
    "/v1/execute-workflow": {
        "post": operation(
            "executeWorkflow",
            "Run a deployment and wait for its outcome",
            "An exception in user code is a REJECTED execution with its message and stack "
            "trace, never a 500.",
            "Runtime",
            {
                "200": answer("The execution ended.", ref("ExecuteWorkflowResponse")),
                **_execute_errors(),
                "504": answer(
                    "A repeated request's run, on another replica, did not end in time.",
                    ref("Error"),
                ),
            },
            body=_EXECUTE_BODY,
        )
    },
    "/v1/execute-workflow-async": {
        "post": operation(
            "executeWorkflowAsync",
            "Start a deployment's run",
            "Answers at once; the status is PENDING until a worker starts the run.",
            "Runtime",
            {
                "200": answer("The run is recorded.", ref("ExecuteWorkflowAsyncResponse")),
                **_execute_errors(),
            },
            body=_EXECUTE_BODY,
        )
    },
    "/v1/execute-workflow-stream": {
        "post": operation(
            "executeWorkflowStream",
            "Run a deployment and stream its result events",
            "Every streamed event is in the log before it is sent; `event_types` picks "
            "WORKFLOW and NODE events.",
            "Runtime",
            {
                "200": _stream("The run's result events, as they happen.", "WorkflowStreamEvent"),
                **_execute_errors(),
            },
            body=_EXECUTE_BODY,
        )
    },
    "/v1/workflow-deployments/{id_or_name}/execute-stream": {
        "post": operation(
            "executeDeploymentStream",
            "Run a deployment and stream its events",
            "The run's own events (the native vocabulary), each in the log before it is sent.",
            "Runtime",
            {
                "200": _stream("The run's events, as they happen.", "WorkflowEvent"),
                **_execute_errors(),
            },
            parameters=[ID_OR_NAME],
            body=json_body(
                ref("ExecuteStreamRequest"),
                "The inputs and options; an empty body runs with no inputs.",
                required=False,
            ),
        )
    },
    "/v1/workflows/executions/{execution_id}/cancel": {
        "post": operation(
            "cancelWorkflowExecution",
            "Cancel a run",
            "The run stops and ends REJECTED with `WORKFLOW_CANCELLED` at the time it was stopped.",
            "Runtime",
            {
                "202": answer("The run is stopping.", ref("CancelResponse")),
                **errors(
                    400,
                    401,
                    404,
                    409,
                    503,
                    e400="`execution_id` is not a UUID.",
                    e404="No run with that id in the workspace.",
                    e409="The run already ended, or runs on another replica (cancel it there).",
                ),
            },
            parameters=[EXECUTION_ID],
        )
    },
    "/v1/workflows/{span_id}/state": {
        "get": operation(
            "retrieveWorkflowState",
            "Read an execution's newest state",
            "The newest state snapshot of the execution whose root span this is.",
            "Runtime",
            {
                "200": answer("The state.", ref("WorkflowResolvedState")),
                **errors(
                    400,
                    401,
                    404,
                    503,
                    e400="`span_id` is not a UUID.",
                    e404="No such execution (with a state) in the workspace.",
                ),
            },
            parameters=[
                path_parameter(
                    "span_id", "The execution's root span id.", UUID, EXAMPLE_EVENT["span_id"]
                )
            ],
        )
    },
    "/v1/submit-workflow-execution-actuals": {
        "post": operation(
            "submitWorkflowExecutionActuals",
            "Submit feedback on an execution's outputs",
            "Status and detail then carry `actuals`, the newest per output.",
            "Runtime",
            {
                "200": {"description": "Recorded (no body)."},
                **errors(
                    400,
                    401,
                    404,
                    413,
                    503,
                    e404="No such execution (or `external_id`) in the workspace.",
                ),
            },
            body=json_body(ref("SubmitActualsRequest"), "The actuals and their execution."),
        )
    },
}
