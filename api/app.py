"""The composition root: `create_app(env)` reads the environment once and wires everything."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.middleware import Middleware

from api.errors import EXCEPTION_HANDLERS
from api.logs import AccessLogMiddleware
from api.routes import events, health
from api.settings import Settings
from domain.keys import KeyRing
from domain.log.ledger import SQLITE_MODULE, Ledger

log = logging.getLogger("runledger.api")


def open_ledger(settings: Settings) -> Ledger:
    """The log the settings name; the embedded default creates its data folder."""
    if settings.log_env["PERSISTENCE_MODULE"] == SQLITE_MODULE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Ledger(settings.log_env)


def create_app(env: Mapping[str, str], settings: Settings | None = None) -> Starlette:
    """The Runledger ASGI app for this environment."""
    settings = settings or Settings.from_env(env)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ledger = open_ledger(settings)
        app.state.ledger = ledger
        app.state.keys = KeyRing(ledger, cache_seconds=settings.key_cache_seconds)
        log.info(
            "ready",
            extra={
                "log": settings.log_env["PERSISTENCE_MODULE"],
                "log_position": ledger.max_position(),
            },
        )
        try:
            yield
        finally:
            # Requests have drained by now (uvicorn waits for them), so closing loses nothing.
            ledger.close()
            log.info("stopped")

    app = Starlette(
        routes=[*health.routes, *events.routes],
        middleware=[Middleware(AccessLogMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
