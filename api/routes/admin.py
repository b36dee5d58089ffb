"""Operator endpoints: rebuild the projections aside and switch (replay), and verify them.

Guarded by the admin token (RUNLEDGER_ADMIN_TOKEN, or the `admin-token` file `serve` writes
into the data folder), not by workspace keys: these act on every workspace. They exist because
the embedded ClickHouse engine admits one process, so `runledger replay` and `runledger
verify` ask the running server to do the work.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.admin_client import admin_proof
from api.auth import require_admin
from api.errors import ApiError
from domain.errors import FieldError
from projections.generations import Generations
from projections.replay import replay, verify

log = logging.getLogger("runledger.admin")
# Servers follow the generation pointer every 2 s; the previous generation is dropped after this.
PREVIOUS_GENERATION_GRACE_SECONDS = 10.0


@dataclass
class ReplayState:
    """Progress of the replay the server is running or ran last."""

    state: str = "idle"
    position: int = 0
    head: int = 0
    database: str = ""
    previous_database: str = ""
    error: str | None = None


def _run_replay(request: Request, state: ReplayState) -> None:
    settings = request.app.state.settings
    live = request.app.state.live

    def progress(position: int, head: int) -> None:
        state.position, state.head = position, head

    try:
        state.previous_database = live.database
        state.database = replay(
            request.app.state.ledger,
            settings.clickhouse_url,
            settings.clickhouse_database,
            progress,
            inline_limit=settings.inline_payload_bytes,
        )
        live.follow_pointer()
        state.state = "done"
        log.info("replay done; reads switched", extra=asdict(state))
        time.sleep(PREVIOUS_GENERATION_GRACE_SECONDS)
        generations = Generations(settings.clickhouse_url, settings.clickhouse_database)
        try:
            generations.drop(state.previous_database)
        finally:
            generations.close()
    except Exception as error:
        state.state, state.error = "failed", f"{type(error).__name__}: {error}"
        log.exception("replay failed")


async def start_replay(request: Request) -> Response:
    """Start rebuilding every projection from the log (202); one replay at a time."""
    require_admin(request)
    if request.app.state.replay.state == "running":
        raise ApiError(409, "a replay is already running")
    state = request.app.state.replay = ReplayState(state="running")
    threading.Thread(target=_run_replay, args=(request, state), name="replay", daemon=True).start()
    return Response(orjson.dumps(asdict(state)), status_code=202, media_type="application/json")


async def replay_status(request: Request) -> Response:
    """How far the replay is."""
    require_admin(request)
    return Response(orjson.dumps(asdict(request.app.state.replay)), media_type="application/json")


async def run_verify(request: Request) -> Response:
    """Compare the live projections with a fresh fold of the log."""
    require_admin(request)
    live = request.app.state.live
    report = await run_in_threadpool(
        verify, request.app.state.ledger, live.reader, lambda _p, _h: None
    )
    body = {
        "database": live.database,
        "executions_count": report.executions_count,
        "events_count": report.events_count,
        "differences": report.differences,
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def prove_admin_token(request: Request) -> Response:
    """Prove this server holds the admin token, without revealing it: `runledger replay` and
    `verify` check the answer before they send the token (api/admin_client.py)."""
    challenge = request.query_params.get("challenge", "")
    if not 16 <= len(challenge) <= 128:
        raise ApiError(
            400,
            "challenge must be 16 to 128 characters",
            [FieldError(None, "challenge", "must be 16 to 128 characters")],
        )
    token = request.app.state.admin_token
    if not token:
        raise ApiError(404, "this server has no admin token")
    body = {"proof": admin_proof(token, challenge)}
    return Response(orjson.dumps(body), media_type="application/json")


async def replay_endpoint(request: Request) -> Response:
    """`/admin/replay`: GET reads the state, POST starts one."""
    # One route for both methods: with a route per method, another method's 405 would name
    # only the first route's method in its Allow header.
    if request.method == "POST":
        return await start_replay(request)
    return await replay_status(request)


routes = [
    Route("/admin/proof", prove_admin_token, methods=["GET"]),
    Route("/admin/replay", replay_endpoint, methods=["GET", "POST"]),
    Route("/admin/verify", run_verify, methods=["POST"]),
]
