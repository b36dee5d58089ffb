"""`GET /v1/workflow-deployments[/{id_or_name}]`: deployments in Vellum's shapes, as far as
they apply (Runledger has no environments or display data; every deployment is ACTIVE)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.errors import ApiError
from domain.errors import FieldError
from projections.deployments import DEPLOYMENT_ORDERS, DeploymentView
from projections.views import Views
from runtime import entrypoints
from runtime.entrypoints import EntrypointError


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _variables(deployment: DeploymentView) -> list[dict[str, Any]]:
    # The declared inputs are the code's: the newest release's entrypoint, as it would run.
    try:
        entrypoint = entrypoints.load(deployment.releases[-1].entrypoint)
    except EntrypointError:
        return []  # the code moved away; the deployment is still listed
    return [
        {"id": spec.name, "key": spec.name, "type": spec.type.value, "required": spec.required}
        for spec in entrypoint.inputs
    ]


def deployment_json(deployment: DeploymentView, *, full: bool) -> dict[str, Any]:
    """A `SlimWorkflowDeployment`, or with `full` a `WorkflowDeploymentRead`."""
    newest = deployment.releases[-1] if deployment.releases else None
    body: dict[str, Any] = {
        "id": str(deployment.id),
        "name": deployment.name,
        "label": deployment.name,
        "status": "ACTIVE",
        "environment": None,
        "created": _iso(deployment.registered_at),
        "last_deployed_on": _iso(newest.released_at if newest else deployment.registered_at),
        "input_variables": _variables(deployment) if newest else [],
        "output_variables": [],
        "description": newest.description if newest else None,
        "releases": [
            {
                "id": str(release.id),
                "entrypoint": release.entrypoint,
                "release_tags": list(release.tags),
                "timeout_seconds": release.timeout_seconds,
                "created": _iso(release.released_at),
            }
            for release in deployment.releases
        ],
    }
    if full:
        body["last_deployed_history_item_id"] = str(newest.id) if newest else ""
    return body


def _whole_number(request: Request, name: str, default: int, least: int, most: int | None) -> int:
    raw = request.query_params.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = least - 1
    if value < least or (most is not None and value > most):
        bounds = f"from {least} to {most}" if most is not None else f"of at least {least}"
        reason = f"must be a whole number {bounds}, got {raw[:40]!r}"
        raise ApiError(400, f"{name} {reason}", [FieldError(None, name, reason)])
    return value


def _choice(request: Request, name: str, choices: Iterable[str], default: str) -> str:
    raw = request.query_params.get(name) or default
    if raw not in choices:
        reason = f"must be one of {', '.join(choices)}, got {raw[:60]!r}"
        raise ApiError(400, f"{name} {reason}", [FieldError(None, name, reason)])
    return raw


def _page_url(request: Request, offset: int) -> str:
    return str(request.url.include_query_params(offset=offset))


async def list_deployments(request: Request) -> Response:
    """The workspace's deployments, paged by `limit` and `offset`, in `ordering` (oldest first
    by default), of a `status` (every deployment is ACTIVE: ARCHIVED lists none)."""
    workspace = await require_workspace(request)
    limit = _whole_number(request, "limit", 100, 1, 1000)
    offset = _whole_number(request, "offset", 0, 0, None)
    ordering = _choice(request, "ordering", DEPLOYMENT_ORDERS, "created")
    status = _choice(request, "status", ("ACTIVE", "ARCHIVED"), "ACTIVE")
    views: Views = request.app.state.views
    count, page = 0, list[DeploymentView]()
    if status == "ACTIVE":
        count, page = await run_in_threadpool(
            views.deployments, workspace.id, limit, offset, ordering
        )
    body = {
        "count": count,
        "next": _page_url(request, offset + limit) if offset + limit < count else None,
        "previous": _page_url(request, max(0, offset - limit)) if offset > 0 else None,
        "results": [deployment_json(d, full=False) for d in page],
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def retrieve_deployment(request: Request) -> Response:
    """One deployment by id or name; another workspace's is a 404."""
    workspace = await require_workspace(request)
    views: Views = request.app.state.views
    found = await run_in_threadpool(
        views.deployment, workspace.id, request.path_params["id_or_name"]
    )
    return Response(orjson.dumps(deployment_json(found, full=True)), media_type="application/json")


routes = [
    Route("/v1/workflow-deployments", list_deployments, methods=["GET"]),
    Route("/v1/workflow-deployments/{id_or_name}", retrieve_deployment, methods=["GET"]),
]
