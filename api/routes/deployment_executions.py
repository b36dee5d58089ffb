"""Vellum's list of a deployment's executions, for the official client's
`workflow_deployments.list_workflow_deployment_event_executions` and
`workflow_deployment_event_execution`: the runtime's runs of the deployment, and ingested
executions whose parent context names it."""

from __future__ import annotations

from uuid import UUID

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.errors import ApiError
from api.execution_numbers import shown_number
from api.routes.lists import DEFAULT_LIMIT, MAX_LIMIT, expression_param, limit_param, order_param
from api.vellum_lists import JSON_OPTIONS, event_execution_json, slim_execution_json
from domain.errors import FieldError
from projections.views import Views

MAX_OFFSET = 100_000
"""How far an offset may reach: each page reads through it (use Runledger's cursor list for
deeper walks)."""
SPAN_LIMIT = 1000


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset") or "0"
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_OFFSET:
        reason = f"must be a whole number from 0 to {MAX_OFFSET}, got {raw[:40]!r}"
        raise ApiError(400, f"offset {reason}", [FieldError(None, "offset", reason)])
    return value


async def list_event_executions(request: Request) -> Response:
    """`GET /v1/workflow-deployments/{id}/execution-events?filters=&limit=&offset=&ordering=`:
    a `WorkflowDeploymentEventExecutionsResponse`."""
    workspace = await require_workspace(request)
    expr = expression_param(request, "filters")
    order = order_param(request, "ordering")
    limit = limit_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _offset(request)
    views: Views = request.app.state.views
    count, pages = await run_in_threadpool(
        lambda: views.deployment_executions(
            workspace.id, request.path_params["id"], expr, order, limit=limit, offset=offset
        )
    )
    body = {"count": count, "results": [slim_execution_json(page) for page in pages]}
    return Response(orjson.dumps(body, option=JSON_OPTIONS), media_type="application/json")


async def retrieve_event_execution(request: Request) -> Response:
    """`GET /v1/workflow-deployments/{id}/execution-events/{execution_id}`: a
    `WorkflowEventExecutionRead`, with up to 1,000 spans."""
    workspace = await require_workspace(request)
    raw = request.path_params["execution_id"]
    try:
        execution_id = UUID(raw)
    except ValueError:
        reason = f"must be a UUID, got {raw[:60]!r}"
        raise ApiError(
            400, f"execution_id {reason}", [FieldError(None, "execution_id", reason)]
        ) from None
    views: Views = request.app.state.views
    page = await run_in_threadpool(
        views.deployment_execution,
        workspace.id,
        request.path_params["id"],
        execution_id,
        SPAN_LIMIT,
    )
    body = event_execution_json(page, shown_number(request, workspace.id, page.listed_position))
    return Response(orjson.dumps(body, option=JSON_OPTIONS), media_type="application/json")


routes = [
    Route("/v1/workflow-deployments/{id}/execution-events", list_event_executions, methods=["GET"]),
    Route(
        "/v1/workflow-deployments/{id}/execution-events/{execution_id}",
        retrieve_event_execution,
        methods=["GET"],
    ),
]
