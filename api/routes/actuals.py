"""`POST /v1/submit-workflow-execution-actuals`: quality feedback on an execution's outputs."""

from __future__ import annotations

import time
from uuid import UUID

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.body import read_limited_body
from domain.actuals import ActualsLog, check_actuals
from domain.errors import ExecutionNotFound, FieldError, InvalidInputs
from runtime.executor import Runtime


def _execution_exists(request: Request, workspace_id: UUID, execution_id: UUID) -> bool:
    runtime: Runtime = request.app.state.runtime
    run = runtime.runs.get(execution_id)
    if run is not None:
        return run.workspace_id == workspace_id
    # An ingested execution: it is known once the log up to now is visible.
    live = request.app.state.live
    live.wait_for(request.app.state.ledger.max_position(), 2.0)
    return live.queries.status(workspace_id, execution_id) is not None


async def submit_actuals(request: Request) -> Response:
    """Record the actuals on the execution named by `execution_id` or `external_id`."""
    workspace = await require_workspace(request)
    raw = await read_limited_body(request, request.app.state.settings.max_body_bytes)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidInputs([FieldError(None, "body", f"is not JSON: {error}")]) from None
    if not isinstance(body, dict):
        raise InvalidInputs([FieldError(None, "body", "must be a JSON object")])
    actuals = check_actuals(body.get("actuals"), now=time.time())
    if body.get("external_id") is not None and not isinstance(body["external_id"], str):
        raise InvalidInputs([FieldError(None, "external_id", "must be a string")])
    runtime: Runtime = request.app.state.runtime
    execution_id: UUID | None = None
    if body.get("execution_id") is not None:
        try:
            execution_id = UUID(str(body["execution_id"]))
        except ValueError:
            raise InvalidInputs([FieldError(None, "execution_id", "must be a UUID")]) from None
    elif isinstance(body.get("external_id"), str) and body["external_id"]:
        run = await run_in_threadpool(
            runtime.runs.by_external_id, workspace.id, body["external_id"]
        )
        if run is None:
            raise ExecutionNotFound(f"with external_id {body['external_id']!r}")
        execution_id = run.id
    else:
        raise InvalidInputs(
            [FieldError(None, "execution_id", "execution_id or external_id is required")]
        )
    if not await run_in_threadpool(_execution_exists, request, workspace.id, execution_id):
        raise ExecutionNotFound(execution_id)
    await run_in_threadpool(
        ActualsLog(request.app.state.ledger).submit, workspace.id, execution_id, actuals
    )
    return Response(b"", status_code=200)


routes = [
    Route("/v1/submit-workflow-execution-actuals", submit_actuals, methods=["POST"]),
]
