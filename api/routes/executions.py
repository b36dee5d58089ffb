"""Execution reads: Vellum's status endpoint."""

from __future__ import annotations

from uuid import UUID

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.errors import ApiError
from projections.queries import ExecutionQueries
from projections.runner import ProjectionRunner


def _execution_id(request: Request) -> UUID:
    raw = request.path_params["execution_id"]
    try:
        return UUID(raw)
    except ValueError:
        raise ApiError(400, f"execution_id must be a UUID, got {raw[:60]!r}") from None


async def _wait_for_requested_position(request: Request) -> None:
    """Read-your-writes: `min_log_position` (the `log_position` ingest answered) waits for it."""
    raw = request.query_params.get("min_log_position")
    if raw is None:
        return
    try:
        position = int(raw)
    except ValueError:
        raise ApiError(400, f"min_log_position must be an integer, got {raw[:40]!r}") from None
    runner: ProjectionRunner = request.app.state.runner
    timeout = request.app.state.settings.read_wait_seconds
    if not await run_in_threadpool(runner.wait_for, position, timeout):
        raise ApiError(
            503,
            f"log position {position} is not visible yet after {timeout:g}s "
            f"(visible up to {runner.visible_position}); retry shortly",
        )


async def execution_status(request: Request) -> Response:
    """`GET /v1/workflows/executions/{execution_id}/status`: the Prime summary."""
    workspace = await require_workspace(request)
    execution_id = _execution_id(request)
    await _wait_for_requested_position(request)
    queries: ExecutionQueries = request.app.state.queries
    view = await run_in_threadpool(queries.status, workspace.id, execution_id)
    if view is None:
        # Another workspace's execution is a 404 too, never a 403 (DESIGN.md §2).
        raise ApiError(404, f"no workflow execution {execution_id} in this workspace")
    error = None
    if view.error is not None:
        error = {"message": view.error.get("message"), "code": view.error.get("code")}
    detail_url = f"{request.base_url}v1/workflow-executions/{execution_id}/detail"
    body = {
        "status": view.status.value,
        "execution_id": str(execution_id),
        "outputs": view.outputs,
        "error": error,
        "execution_detail_url": detail_url,
    }
    return Response(orjson.dumps(body), media_type="application/json")


routes = [
    Route("/v1/workflows/executions/{execution_id}/status", execution_status, methods=["GET"]),
]
