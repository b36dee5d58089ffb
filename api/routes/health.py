"""`/healthz` (the process answers) and `/readyz` (it can reach its log)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import is_admin
from projections.runner import ProjectionRunner

log = logging.getLogger("runledger.api")


async def healthz(request: Request) -> Response:
    """Liveness: the process is serving."""
    return Response(orjson.dumps({"status": "ok"}), media_type="application/json")


async def readyz(request: Request) -> Response:
    """Readiness: the log answers. With the admin token, also how far projections are and how
    stale they run: positions and rates would tell anyone how much every workspace writes."""
    try:
        position = await run_in_threadpool(request.app.state.ledger.max_position)
    except Exception:
        log.exception("readiness check failed")
        unavailable = {"status": "unavailable", "log": "unreachable"}
        return Response(orjson.dumps(unavailable), status_code=503, media_type="application/json")
    if not is_admin(request):
        return Response(orjson.dumps({"status": "ready"}), media_type="application/json")
    runner: ProjectionRunner = request.app.state.live.runner
    lag, batches = runner.lag(), runner.batches()
    body: dict[str, Any] = {
        "status": "ready",
        "log_position": position,
        "projections": {
            "visible_position": runner.visible_position,
            "behind_count": max(0, position - runner.visible_position),
            "lag_p50_seconds": lag.p50_seconds,
            "lag_p99_seconds": lag.p99_seconds,
            "lag_samples_count": lag.samples_count,
            "batches_count": batches.count,
            "batch_events_p50": batches.events_p50,
            "batch_apply_p50_seconds": batches.apply_p50_seconds,
            "batch_apply_p99_seconds": batches.apply_p99_seconds,
            "last_error": runner.last_error,
        },
    }
    return Response(orjson.dumps(body), media_type="application/json")


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
