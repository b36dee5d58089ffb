"""`/healthz` (the process answers) and `/readyz` (it can reach its log)."""

from __future__ import annotations

import logging

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger("runledger.api")


async def healthz(request: Request) -> Response:
    """Liveness: the process is serving."""
    return Response(orjson.dumps({"status": "ok"}), media_type="application/json")


async def readyz(request: Request) -> Response:
    """Readiness: the log answers; reports its newest position."""
    try:
        position = await run_in_threadpool(request.app.state.ledger.max_position)
    except Exception:
        log.exception("readiness check failed")
        return Response(
            orjson.dumps({"status": "unavailable", "log": "unreachable"}),
            status_code=503,
            media_type="application/json",
        )
    return Response(
        orjson.dumps({"status": "ready", "log_position": position}), media_type="application/json"
    )


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
