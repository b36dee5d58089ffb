"""The composition root: `create_app(env)` reads the environment once and wires everything."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.middleware import Middleware

from api.errors import EXCEPTION_HANDLERS
from api.logs import AccessLogMiddleware
from api.routes import events, executions, health
from api.settings import Settings
from domain.keys import KeyRing
from domain.log.ledger import SQLITE_MODULE, Ledger
from projections.clickhouse import connect
from projections.detail import ExecutionDetails
from projections.migrations import apply_migrations
from projections.queries import ExecutionQueries
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore

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
        # The writer and the readers get clients of their own: calls on one client serialise.
        writer = connect(settings.clickhouse_url, settings.clickhouse_database)
        reader = connect(settings.clickhouse_url, settings.clickhouse_database)
        apply_migrations(writer)
        runner = ProjectionRunner(ledger, ClickHouseStore(writer))
        if settings.projector == "thread":
            runner.start()
        app.state.ledger = ledger
        app.state.keys = KeyRing(ledger, cache_seconds=settings.key_cache_seconds)
        app.state.runner = runner
        app.state.queries = ExecutionQueries(reader)
        app.state.details = ExecutionDetails(reader, app.state.queries)
        log.info(
            "ready",
            extra={
                "log": settings.log_env["PERSISTENCE_MODULE"],
                "log_position": ledger.max_position(),
                "clickhouse": settings.clickhouse_url.split("@")[-1],
                "projector": settings.projector,
            },
        )
        try:
            yield
        finally:
            # Requests have drained by now (uvicorn waits for them), so closing loses nothing;
            # the runner finishes its batch and resumes from its tracking row next start.
            runner.stop()
            writer.close()
            reader.close()
            ledger.close()
            log.info("stopped")

    app = Starlette(
        routes=[*health.routes, *events.routes, *executions.routes],
        middleware=[Middleware(AccessLogMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
