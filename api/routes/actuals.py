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
from projections.views import Views


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
    views: Views = request.app.state.views
    execution_id: UUID | None = None
    if body.get("execution_id") is not None:
        try:
            execution_id = UUID(str(body["execution_id"]))
        except ValueError:
            raise InvalidInputs([FieldError(None, "execution_id", "must be a UUID")]) from None
    elif isinstance(body.get("external_id"), str) and body["external_id"]:
        execution_id = await run_in_threadpool(
            views.run_by_external_id, workspace.id, body["external_id"]
        )
    else:
        raise InvalidInputs(
            [FieldError(None, "execution_id", "execution_id or external_id is required")]
        )
    if not await run_in_threadpool(views.exists, workspace.id, execution_id):
        raise ExecutionNotFound(execution_id)
    await run_in_threadpool(
        ActualsLog(request.app.state.ledger).submit, workspace.id, execution_id, actuals
    )
    return Response(b"", status_code=200)


routes = [
    Route("/v1/submit-workflow-execution-actuals", submit_actuals, methods=["POST"]),
]
