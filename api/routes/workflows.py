"""Acting on executions the runtime made: cancel one, read one's resolved state."""

from __future__ import annotations

from uuid import UUID

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.errors import ApiError
from domain.errors import FieldError
from projections.views import Views
from runtime.executor import Runtime


def _uuid(request: Request, name: str) -> UUID:
    raw = request.path_params[name]
    try:
        return UUID(raw)
    except ValueError:
        reason = f"must be a UUID, got {raw[:60]!r}"
        raise ApiError(400, f"{name} {reason}", [FieldError(None, name, reason)]) from None


async def cancel_execution(request: Request) -> Response:
    """`POST /v1/workflows/executions/{execution_id}/cancel`: stop a queued or running run.

    The run ends REJECTED with WORKFLOW_CANCELLED, recorded at the time it was stopped. A run
    that already ended is a 409; a run in flight on another replica must be cancelled there.
    """
    workspace = await require_workspace(request)
    execution_id = _uuid(request, "execution_id")
    runtime: Runtime = request.app.state.runtime
    run = await run_in_threadpool(runtime.cancel, workspace.id, execution_id)
    if run.finished_status is not None:
        raise ApiError(409, f"execution {execution_id} already ended as {run.finished_status}")
    handle = runtime.handle(execution_id)
    if handle is None:
        raise ApiError(
            409, f"execution {execution_id} runs on replica {run.replica!r}; cancel it there"
        )
    reason = handle.stopper.reason
    body = {
        "execution_id": str(execution_id),
        "status": "CANCELLING",
        "cancelled_at": reason.at.isoformat().replace("+00:00", "Z") if reason else None,
    }
    return Response(orjson.dumps(body), status_code=202, media_type="application/json")


async def workflow_state(request: Request) -> Response:
    """`GET /v1/workflows/{span_id}/state`: Vellum's `WorkflowResolvedState`."""
    workspace = await require_workspace(request)
    span_id = _uuid(request, "span_id")
    views: Views = request.app.state.views
    view = await run_in_threadpool(views.state, workspace.id, span_id)

    def text(value: UUID | None) -> str | None:
        return str(value) if value is not None else None

    body = {
        "trace_id": str(view.trace_id),
        "timestamp": view.timestamp.isoformat().replace("+00:00", "Z"),
        "span_id": str(view.span_id),
        "state": view.state,
        "previous_trace_id": text(view.previous_trace_id),
        "previous_span_id": text(view.previous_span_id),
        "root_trace_id": text(view.root_trace_id),
        "root_span_id": text(view.root_span_id),
    }
    return Response(orjson.dumps(body), media_type="application/json")


routes = [
    Route("/v1/workflows/executions/{execution_id}/cancel", cancel_execution, methods=["POST"]),
    Route("/v1/workflows/{span_id}/state", workflow_state, methods=["GET"]),
]
