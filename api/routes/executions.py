"""Execution reads: Vellum's status and detail endpoints."""

from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.errors import ApiError
from api.execution_numbers import shown_number
from api.payload_urls import payload_urls
from api.vellum_shapes import (
    DETAIL_JSON_OPTIONS,
    detail_json,
    pending_detail_json,
    unreadable_json,
)
from domain.errors import FieldError, InvalidCursor
from domain.position_tokens import InvalidPositionToken, PositionTokens
from projections.queries import ExecutionRead
from projections.views import PendingDetail, Views


def execution_id_param(request: Request) -> UUID:
    """The path's `execution_id`; 400 naming it when it is not a UUID."""
    raw = request.path_params["execution_id"]
    try:
        return UUID(raw)
    except ValueError:
        reason = f"must be a UUID, got {raw[:60]!r}"
        raise ApiError(
            400, f"execution_id {reason}", [FieldError(None, "execution_id", reason)]
        ) from None


def position_param(request: Request, workspace_id: UUID, name: str) -> int | None:
    """The log position a query parameter's token names (tokens as ingest answers them)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    tokens: PositionTokens = request.app.state.position_tokens
    try:
        return tokens.position(workspace_id, raw)
    except InvalidPositionToken:
        reason = "is not a log position token this workspace was given"
        raise ApiError(400, f"{name} {reason}", [FieldError(None, name, reason)]) from None


def min_log_position(request: Request, workspace_id: UUID) -> int | None:
    """Read-your-writes: the position of `min_log_position`, the token ingest answered."""
    return position_param(request, workspace_id, "min_log_position")


def status_json(read: ExecutionRead, execution_id: UUID, detail_url: str) -> dict[str, Any]:
    """Vellum's `CheckWorkflowExecutionStatusResponse`, plus `actuals` and `unreadable`."""
    summary, run = read.summary, read.run
    body: dict[str, Any]
    if summary is None:
        assert run is not None  # a read that found nothing raised ExecutionNotFound
        # Accepted by the runtime, its events not visible yet: waiting for a worker.
        body = {
            "status": "INITIATED" if run.started else "PENDING",
            "execution_id": str(execution_id),
            "outputs": None,
            "error": None,
            "execution_detail_url": detail_url,
        }
    else:
        error = summary.error
        body = {
            "status": summary.status.value,
            "execution_id": str(execution_id),
            "outputs": summary.outputs,
            "error": {"message": error["message"], "code": error["code"]} if error else None,
            "execution_detail_url": detail_url,
            **unreadable_json(summary.unreadable),
        }
    if read.actuals is not None:
        body["actuals"] = read.actuals
    return body


async def execution_status(request: Request) -> Response:
    """`GET /v1/workflows/executions/{execution_id}/status`: the Prime summary."""
    workspace = await require_workspace(request)
    execution_id = execution_id_param(request)
    position = min_log_position(request, workspace.id)
    views: Views = request.app.state.views
    read = await run_in_threadpool(views.status, workspace.id, execution_id, position)
    detail_url = f"{request.base_url}v1/workflow-executions/{execution_id}/detail"
    body = status_json(read, execution_id, detail_url)
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


def _linked(request: Request) -> bool:
    """`payloads=links`: values the payload store holds as links instead of inline."""
    raw = request.query_params.get("payloads") or "inline"
    if raw not in ("inline", "links"):
        reason = f"must be 'inline' or 'links', got {raw[:40]!r}"
        raise ApiError(400, f"payloads {reason}", [FieldError(None, "payloads", reason)])
    return raw == "links"


async def execution_detail(request: Request) -> Response:
    """`GET /v1/workflow-executions/{execution_id}/detail?prev_span_id=&span_limit=&payloads=`."""
    workspace = await require_workspace(request)
    execution_id = execution_id_param(request)
    limit, prev_span_id = _span_limit(request), _prev_span_id(request)
    linked = _linked(request)
    position = min_log_position(request, workspace.id)
    views: Views = request.app.state.views
    page = await run_in_threadpool(
        functools.partial(
            views.detail,
            workspace.id,
            execution_id,
            prev_span_id,
            limit,
            position,
            inline_values=not linked,
        )
    )
    number = shown_number(request, workspace.id, page.listed_position)
    if isinstance(page, PendingDetail):
        body = pending_detail_json(page, number)
    else:
        links = payload_urls(request, workspace.id, execution_id) if linked else None
        body = detail_json(str(execution_id), page, number, links)
    if page.actuals is not None:
        body["actuals"] = page.actuals
    return Response(orjson.dumps(body, option=DETAIL_JSON_OPTIONS), media_type="application/json")


routes = [
    Route("/v1/workflows/executions/{execution_id}/status", execution_status, methods=["GET"]),
    Route("/v1/workflow-executions/{execution_id}/detail", execution_detail, methods=["GET"]),
]
