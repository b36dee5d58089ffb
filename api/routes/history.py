"""`GET /v1/workflow-executions/{execution_id}/events`: an execution's history, as stored.

Every stored event of the execution, oldest first (or newest first), each as the log holds it:
its position (as a token, like every position a workspace sees), when it was received, and
the bytes that were sent. Keyset pages by position; a long poll (`wait`) that answers as soon
as a newer event is stored, so a dashboard tails a running execution; and the whole history as
NDJSON, one line an event.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from uuid import UUID

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api.auth import require_workspace
from api.errors import ApiError
from api.routes.executions import execution_id_param, min_log_position, position_param
from api.routes.lists import MAX_LIMIT, limit_param
from domain.errors import FieldError
from domain.position_tokens import PositionTokens
from projections.history import HistoryEvent
from projections.views import Views

NDJSON = "application/x-ndjson"
DEFAULT_LIMIT = 100
MAX_WAIT_SECONDS = 60.0
# Events an NDJSON stream reads at a time: a page's statement reads the payloads of every
# later event of the execution before it limits (LIMIT 1 BY), so few large pages cost less
# than many small ones (bench/README.md, "Audit part").
_STREAM_PAGE = 10_000
_ORDERS = ("asc", "desc")


def _bad(name: str, reason: str) -> ApiError:
    return ApiError(400, f"{name} {reason}", [FieldError(None, name, reason)])


def _wait_param(request: Request) -> float:
    raw = request.query_params.get("wait")
    if not raw:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_WAIT_SECONDS:  # NaN fails this too
        raise _bad("wait", f"must be a number of seconds from 0 to 60, got {raw[:40]!r}")
    return seconds


def _item(event: HistoryEvent, tokens: PositionTokens, workspace_id: UUID) -> bytes:
    # The event goes in as the bytes that were sent: they are one JSON value.
    return b"".join(
        (
            b'{"log_position":',
            orjson.dumps(tokens.token(workspace_id, event.position)),
            b',"received_at":',
            orjson.dumps(event.received_at.isoformat()),
            b',"event":',
            event.raw,
            b"}",
        )
    )


async def execution_events(request: Request) -> Response:
    """A page of the execution's history, or all of it as NDJSON."""
    workspace = await require_workspace(request)
    execution_id = execution_id_param(request)
    order = request.query_params.get("order") or "asc"
    if order not in _ORDERS:
        raise _bad("order", f"must be asc or desc, got {order[:40]!r}")
    descending = order == "desc"
    limit = limit_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    after = position_param(request, workspace.id, "after_position")
    wait = _wait_param(request)
    if wait and descending:
        raise _bad("wait", "waits for newer events, so it needs order=asc")
    streamed = NDJSON in request.headers.get("accept", "")
    if wait and streamed:
        raise _bad("wait", "is for pages; an NDJSON stream is the whole history as it is now")
    position = min_log_position(request, workspace.id)
    views: Views = request.app.state.views
    tokens: PositionTokens = request.app.state.position_tokens
    if streamed:

        def read(after: int | None) -> list[HistoryEvent]:
            return views.history(
                workspace.id,
                execution_id,
                after=after,
                limit=_STREAM_PAGE,
                descending=descending,
                min_position=position,
            )

        return await _stream(read, lambda event: _item(event, tokens, workspace.id), after)
    if wait:
        await run_in_threadpool(views.wait_for_position, position)
        found = await views.history_when_newer(
            workspace.id, execution_id, after=after, limit=limit + 1, wait_seconds=wait
        )
    else:
        found = await run_in_threadpool(
            lambda: views.history(
                workspace.id,
                execution_id,
                after=after,
                limit=limit + 1,
                descending=descending,
                min_position=position,
            )
        )
    page = found[:limit]
    # Where to go on from: the last event shown, or, when there was none, the caller's own
    # token back (a tail polls again from there).
    if page:
        next_after: str | None = tokens.token(workspace.id, page[-1].position)
    else:
        next_after = request.query_params.get("after_position")
    body = b"".join(
        (
            b'{"data":[',
            b",".join(_item(event, tokens, workspace.id) for event in page),
            b'],"has_more":',
            b"true" if len(found) > limit else b"false",
            b',"next_after_position":',
            orjson.dumps(next_after),
            b"}",
        )
    )
    return Response(body, media_type="application/json")


def _one_line(line: bytes) -> bytes:
    if b"\n" in line or b"\r" in line:
        return line.replace(b"\r", b" ").replace(b"\n", b" ")
    return line


async def _stream(
    read: Callable[[int | None], list[HistoryEvent]],
    item: Callable[[HistoryEvent], bytes],
    after: int | None,
) -> Response:
    """Every event from `after` on, one line each, `read` a thousand at a time."""
    # The first page before the answer starts: a missing execution is still a 404.
    first = await run_in_threadpool(read, after)

    async def lines() -> AsyncIterator[bytes]:
        page = first
        while page:
            # A sender's line breaks can only be JSON whitespace; as spaces, an event stays
            # one line (the JSON answer has them byte for byte).
            yield b"".join(_one_line(item(event)) + b"\n" for event in page)
            if len(page) < _STREAM_PAGE:
                return
            page = await run_in_threadpool(read, page[-1].position)

    return StreamingResponse(lines(), media_type=NDJSON)


routes = [Route("/v1/workflow-executions/{execution_id}/events", execution_events, methods=["GET"])]
