"""`POST /v2/workflow/executions/get`: Velt's execution read (seeds/003), a view of the same
projections as Vellum's status and detail.

The key is a Runledger API key in `x-velt-api-key`; Velt's `x-velt-auth-token` (a user's
token in Velt) is accepted and ignored, since a Runledger key alone names the workspace.
Every error the route answers is in Velt's shape, `{"error": {"message", "status"}}`, with the
HTTP status that fits (api/velt_errors.py); a request of another method is refused by the router
before the route, in the shape every route shares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.body import read_limited_body
from api.errors import ApiError
from api.payload_urls import payload_urls
from api.velt_errors import velt_error
from api.velt_shapes import result_json
from domain.errors import FieldError, InvalidCursor
from projections.detail import DetailPage
from projections.views import Views

VELT_KEY_HEADER = "x-velt-api-key"
DEFAULT_STEP_LIMIT = 1000
MAX_STEP_LIMIT = 1000


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(400, f"{field} {reason}", [FieldError(None, field, reason)])


@dataclass(frozen=True, slots=True)
class VeltRequest:
    """What a read asks for: the execution, the page of its steps, how outputs come."""

    execution_id: UUID
    cursor: UUID | None
    limit: int
    links: bool
    """Completed steps link to their outputs (`outputUrl`) instead of carrying them."""


def parse_request(body: bytes) -> VeltRequest:
    """The request in `{"data": {...}}`."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise _invalid("body", "must be JSON") from None
    if not isinstance(parsed, dict):
        raise _invalid("body", "must be a JSON object")
    data = parsed.get("data")
    if not isinstance(data, dict):
        raise _invalid("data", "is required and must be an object")
    raw_id = data.get("executionId")
    if not isinstance(raw_id, str) or not raw_id:
        raise _invalid("data.executionId", "is required and must be a string")
    outputs = data.get("outputs", "inline")
    if outputs not in ("inline", "links"):
        raise _invalid("data.outputs", "must be 'inline' or 'links'")
    return VeltRequest(
        _uuid("data.executionId", raw_id),
        _cursor(data.get("stepCursor")),
        _limit(data.get("stepLimit")),
        links=outputs == "links",
    )


def _uuid(field: str, raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise _invalid(field, f"must be a Runledger id (a UUID), got {raw[:60]!r}") from None


def _cursor(raw: Any) -> UUID | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _invalid("data.stepCursor", "must be a string or null")
    return _uuid("data.stepCursor", raw)


def _limit(raw: Any) -> int:
    if raw is None:
        return DEFAULT_STEP_LIMIT
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_STEP_LIMIT:
        raise _invalid("data.stepLimit", f"must be an integer from 1 to {MAX_STEP_LIMIT}")
    return raw


async def get_execution(request: Request) -> Response:
    """An execution and one page of its steps (all of them, unless there are more than
    `stepLimit` spans; then `nextStepCursor` is the `stepCursor` of the next page)."""
    try:
        workspace = await require_workspace(request, VELT_KEY_HEADER, "x-velt-api-key")
        body = await read_limited_body(request, request.app.state.settings.max_body_bytes)
        asked = parse_request(body)
        views: Views = request.app.state.views
        try:
            # Linked outputs are not read at all (span_steps.sql).
            view = await run_in_threadpool(
                lambda: views.execution_view(
                    workspace.id,
                    asked.execution_id,
                    asked.cursor,
                    asked.limit,
                    values=not asked.links,
                )
            )
        except InvalidCursor as exc:
            raise _invalid("data.stepCursor", exc.reason) from None
    except Exception as exc:  # every error leaves in Velt's shape
        return await velt_error(request, exc)
    page = view.page
    more = isinstance(page, DetailPage) and page.has_more and bool(page.spans)
    next_cursor = str(page.spans[-1].span_id) if more and isinstance(page, DetailPage) else None
    links = payload_urls(request, workspace.id, view.execution_id) if asked.links else None
    answer = result_json(view, next_cursor, links)
    return Response(orjson.dumps(answer), media_type="application/json")


routes = [Route("/v2/workflow/executions/get", get_execution, methods=["POST"])]
