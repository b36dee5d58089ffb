"""Execution reads: Vellum's status and detail endpoints."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.errors import ApiError
from api.vellum_shapes import (
    DETAIL_JSON_OPTIONS,
    detail_json,
    pending_detail_json,
    unreadable_json,
)
from domain.actuals import ActualsLog
from domain.errors import ExecutionNotFound, FieldError, InvalidCursor
from domain.lifecycle import ExecutionStatus
from domain.position_tokens import InvalidPositionToken, PositionTokens
from domain.runs import Run
from projections.detail import DetailPage, ExecutionDetails
from projections.queries import ExecutionQueries
from projections.runner import ProjectionRunner
from runtime.executor import Runtime


def _execution_id(request: Request) -> UUID:
    raw = request.path_params["execution_id"]
    try:
        return UUID(raw)
    except ValueError:
        reason = f"must be a UUID, got {raw[:60]!r}"
        raise ApiError(
            400, f"execution_id {reason}", [FieldError(None, "execution_id", reason)]
        ) from None


async def _wait_for_requested_position(request: Request, workspace_id: UUID) -> None:
    """Read-your-writes: `min_log_position` (the token ingest answered) waits for its position."""
    raw = request.query_params.get("min_log_position")
    if raw is None:
        return
    tokens: PositionTokens = request.app.state.position_tokens
    try:
        position = tokens.position(workspace_id, raw)
    except InvalidPositionToken:
        reason = "is not a log position token this workspace was given"
        raise ApiError(
            400, f"min_log_position {reason}", [FieldError(None, "min_log_position", reason)]
        ) from None
    runner: ProjectionRunner = request.app.state.live.runner
    if position > runner.visible_position:
        # Only a log restored from an older copy can lack a position it once answered; such a
        # wait would last the whole timeout for nothing.
        newest = await run_in_threadpool(request.app.state.ledger.max_position)
        if position > newest:
            reason = "is beyond the end of the log (was the log restored from an older copy?)"
            raise ApiError(
                400, f"min_log_position {reason}", [FieldError(None, "min_log_position", reason)]
            )
    timeout = request.app.state.settings.read_wait_seconds
    if not await run_in_threadpool(request.app.state.live.wait_for, position, timeout):
        raise ApiError(
            503,
            f"the writes of min_log_position are not visible yet after {timeout:g}s; retry shortly",
            headers={"Retry-After": "1"},
        )


async def _add_actuals(
    request: Request, body: dict[str, Any], workspace_id: UUID, execution_id: UUID
) -> None:
    """Runledger's addition to Vellum's shapes: the newest actual per output, when any."""
    actuals = ActualsLog(request.app.state.ledger)
    latest = await run_in_threadpool(actuals.latest, workspace_id, execution_id)
    if latest is not None:
        body["actuals"] = latest


_TERMINAL = (ExecutionStatus.FULFILLED, ExecutionStatus.REJECTED)


async def _known_run(request: Request, workspace_id: UUID, execution_id: UUID) -> Run | None:
    """The run, if the runtime made this execution; once it has finished, its end is visible.

    A client that ran a workflow and reads it right away must see how it ended (read your
    runs): the run's "finished" record is in the log with its last events, so waiting for the
    log's head to be projected is enough, and costs nothing when it already is.
    """
    runtime: Runtime = request.app.state.runtime
    run = await run_in_threadpool(runtime.runs.get, execution_id)
    if run is None or run.workspace_id != workspace_id:
        return None
    if run.finished_status is not None:
        live = request.app.state.live
        head = request.app.state.ledger.max_position()
        timeout = request.app.state.settings.read_wait_seconds
        await run_in_threadpool(live.wait_for, head, timeout)
    return run


async def execution_status(request: Request) -> Response:
    """`GET /v1/workflows/executions/{execution_id}/status`: the Prime summary."""
    workspace = await require_workspace(request)
    execution_id = _execution_id(request)
    await _wait_for_requested_position(request, workspace.id)
    queries: ExecutionQueries = request.app.state.live.queries
    view = await run_in_threadpool(queries.status, workspace.id, execution_id)
    run = None
    if view is None or view.status not in _TERMINAL:
        run = await _known_run(request, workspace.id, execution_id)
        if run is not None and run.finished_status is not None:
            view = await run_in_threadpool(queries.status, workspace.id, execution_id)
    detail_url = f"{request.base_url}v1/workflow-executions/{execution_id}/detail"
    body: dict[str, Any]
    if view is None:
        if run is None:
            raise ExecutionNotFound(execution_id)
        # Accepted by the runtime, not yet in the projections: waiting for a worker.
        body = {
            "status": "INITIATED" if run.started else "PENDING",
            "execution_id": str(execution_id),
            "outputs": None,
            "error": None,
            "execution_detail_url": detail_url,
        }
    else:
        error = view.error
        body = {
            "status": view.status.value,
            "execution_id": str(execution_id),
            "outputs": view.outputs,
            "error": {"message": error["message"], "code": error["code"]} if error else None,
            "execution_detail_url": detail_url,
            **unreadable_json(view.unreadable),
        }
    await _add_actuals(request, body, workspace.id, execution_id)
    return Response(orjson.dumps(body), media_type="application/json")


DEFAULT_SPAN_LIMIT = 100
MAX_SPAN_LIMIT = 1000


def _span_limit(request: Request) -> int:
    raw = request.query_params.get("span_limit")
    if raw is None or raw == "":
        return DEFAULT_SPAN_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidCursor("span_limit", f"must be an integer, got {raw[:40]!r}") from None
    if not 1 <= limit <= MAX_SPAN_LIMIT:
        raise InvalidCursor("span_limit", f"must be between 1 and {MAX_SPAN_LIMIT}, got {limit}")
    return limit


def _prev_span_id(request: Request) -> UUID | None:
    raw = request.query_params.get("prev_span_id")
    if raw is None or raw == "":
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidCursor("prev_span_id", f"must be a UUID, got {raw[:60]!r}") from None


async def execution_detail(request: Request) -> Response:
    """`GET /v1/workflow-executions/{execution_id}/detail?prev_span_id=&span_limit=`."""
    workspace = await require_workspace(request)
    execution_id = _execution_id(request)
    limit, prev_span_id = _span_limit(request), _prev_span_id(request)
    await _wait_for_requested_position(request, workspace.id)

    def page_of() -> DetailPage:
        # The live generation's reader at each call: a replay may switch it in between.
        details: ExecutionDetails = request.app.state.live.details
        return details.page(workspace.id, execution_id, prev_span_id, limit)

    try:
        page: DetailPage | None = await run_in_threadpool(page_of)
    except ExecutionNotFound:
        page = None
    if page is None or page.summary.status not in _TERMINAL:
        run = await _known_run(request, workspace.id, execution_id)
        if run is not None and run.finished_status is not None:
            page = await run_in_threadpool(page_of)
        elif page is None and run is not None:
            body = pending_detail_json(run)
            await _add_actuals(request, body, workspace.id, execution_id)
            return Response(orjson.dumps(body), media_type="application/json")
    if page is None:
        raise ExecutionNotFound(execution_id)
    body = detail_json(str(execution_id), page)
    await _add_actuals(request, body, workspace.id, execution_id)
    return Response(orjson.dumps(body, option=DETAIL_JSON_OPTIONS), media_type="application/json")


routes = [
    Route("/v1/workflows/executions/{execution_id}/status", execution_status, methods=["GET"]),
    Route("/v1/workflow-executions/{execution_id}/detail", execution_detail, methods=["GET"]),
]
