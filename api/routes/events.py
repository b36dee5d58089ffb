"""`POST /monitoring/v1/events`: Vellum's event ingest, the way events enter the log."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.body import read_limited_body
from domain.errors import InvalidBatch
from domain.ingest import ingest


async def create_events(request: Request) -> Response:
    """Validate the whole batch, append it durably, then acknowledge with the counts."""
    workspace = await require_workspace(request)
    settings = request.app.state.settings
    body = await read_limited_body(request, settings.max_body_bytes)
    # Parsing and the blocking append run off the event loop; the answer is sent only after
    # the append has committed, so every acknowledged event is durably in the log.
    try:
        result = await run_in_threadpool(
            ingest,
            request.app.state.ledger,
            workspace.id,
            body,
            max_events=settings.max_batch_events,
            received_at=datetime.now(UTC),
        )
    except InvalidBatch as refused:
        # The events the answer names; the others of the batch are refused with them.
        request.app.state.metrics.refused_events("events", "invalid", refused.event_count)
        raise
    request.app.state.metrics.events("events", result.accepted_count, result.duplicate_count)
    # The projection thread wakes now instead of at its next idle tick.
    request.app.state.live.runner.wake()
    return Response(
        orjson.dumps(
            {
                "success": True,
                "count": result.received_count,
                "accepted_count": result.accepted_count,
                "duplicate_count": result.duplicate_count,
                # A token, not the number: positions would tell this workspace how much the
                # others write (domain/position_tokens.py).
                "log_position": request.app.state.position_tokens.token(
                    workspace.id, result.log_position
                ),
            }
        ),
        media_type="application/json",
    )


routes = [Route("/monitoring/v1/events", create_events, methods=["POST"])]
