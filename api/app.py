"""The composition root: `create_app(env)` reads the environment once and wires everything."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from uuid import UUID

from starlette.applications import Starlette
from starlette.middleware import Middleware

from api.admin_client import remove_address
from api.deployments_file import register_file
from api.errors import EXCEPTION_HANDLERS
from api.live import LiveProjections
from api.locks import writer_lock
from api.logs import AccessLogMiddleware
from api.metrics import Metrics, ServerState
from api.routes import (
    actuals,
    admin,
    audit,
    datalab,
    deployment_executions,
    deployments,
    events,
    execute,
    executions,
    health,
    history,
    lists,
    metrics,
    payloads,
    reference,
    traces,
    velt,
    workflows,
)
from api.routes.admin import ReplayState
from api.settings import Settings
from domain.errors import ExecutionNotFound
from domain.execution_numbers import ExecutionNumbers
from domain.keys import KeyRing
from domain.log.ledger import SQLITE_MODULE, TAIL_RECORDS, Ledger
from domain.payload_links import PayloadLinks
from domain.position_tokens import PositionTokens, log_secret
from domain.state import ResolvedState
from projections.views import Views
from runtime.executor import Runtime

log = logging.getLogger("runledger.api")


def open_ledger(settings: Settings) -> Ledger:
    """The log the settings name; the embedded default creates its data folder."""
    if settings.log_env["PERSISTENCE_MODULE"] == SQLITE_MODULE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    # With the projector off nothing in this process reads what it appends.
    tail = TAIL_RECORDS if settings.projector == "thread" else 0
    return Ledger(settings.log_env, tail_records=tail)


def read_admin_token(settings: Settings) -> str | None:
    """The admin token `serve` left in the data folder, if any."""
    try:
        return settings.admin_token_path.read_text().strip() or None
    except FileNotFoundError:
        return None


def open_runtime(
    settings: Settings, ledger: Ledger, live: LiveProjections, views: Views
) -> Runtime:
    """The runtime, with the deployments file registered and a crash's leftovers dealt with."""

    def load_state(workspace_id: UUID, execution_id: UUID) -> ResolvedState | None:
        # A run chained on a previous execution reads its state as every read does.
        try:
            return views.state(workspace_id, execution_id)
        except ExecutionNotFound:
            return None

    def wake_runner() -> None:
        # Looked up at each call: a replay's switch replaces the runner.
        live.runner.wake()

    runtime = Runtime(
        ledger,
        workers=settings.workers,
        replica=settings.replica,
        load_state=load_state,
        on_append=wake_runner,
    )
    if settings.deployments_file is not None:
        for name, created in register_file(settings.deployments_file, runtime.deployments):
            log.info("deployment registered", extra={"deployment": name, "new_release": created})
    runtime.recover()
    return runtime


def create_app(env: Mapping[str, str], settings: Settings | None = None) -> Starlette:
    """The Runledger ASGI app for this environment."""
    settings = settings or Settings.from_env(env)
    figures = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ledger = open_ledger(settings)
        live = LiveProjections(settings, ledger, writer_lock(settings), figures.batch_applied)
        live.watch()
        app.state.ledger = ledger
        app.state.keys = KeyRing(ledger, cache_seconds=settings.key_cache_seconds)
        secret = log_secret(ledger)
        app.state.position_tokens = PositionTokens(secret)
        app.state.execution_numbers = ExecutionNumbers(secret)
        app.state.payload_links = PayloadLinks.of(
            secret, settings.payload_secret, settings.payload_url_seconds
        )
        app.state.live = live
        views = app.state.views = Views(live, ledger.max_position, settings.read_wait_seconds)
        app.state.replay = ReplayState()
        app.state.admin_token = settings.admin_token or read_admin_token(settings)
        app.state.audit_key = audit.audit_signing_key(settings)
        runtime = open_runtime(settings, ledger, live, views)
        app.state.runtime = runtime
        figures.serve(
            ServerState(
                log_position=ledger.max_position,
                # Looked up at each scrape: a replay's switch replaces the runner.
                visible_position=lambda: live.visible_position,
                writing=lambda: live.leading,
                projection_error=lambda: live.runner.last_error,
                runtime_load=runtime.load,
            )
        )
        log.info(
            "ready",
            extra={
                "log": settings.log_env["PERSISTENCE_MODULE"],
                "log_position": ledger.max_position(),
                "clickhouse": settings.clickhouse_url.split("@")[-1],
                "generation": live.database,
                "projector": settings.projector,
                "projection_writer": live.leading,
            },
        )
        try:
            yield
        finally:
            # Here rather than after uvicorn returns: on SIGTERM it re-raises the signal once the
            # app has stopped, and the process ends without unwinding `serve`.
            served_url = getattr(app.state, "served_url", None)
            if served_url is not None:
                remove_address(settings, served_url)
            figures.serve(None)
            # Requests have drained by now (uvicorn waits for them), so closing loses nothing;
            # the runner finishes its batch and resumes from its tracking row next start.
            runtime.close(settings.graceful_shutdown_seconds)
            live.close()
            ledger.close()
            log.info("stopped")

    app = Starlette(
        routes=[
            *health.routes,
            *events.routes,
            *executions.routes,
            *lists.routes,
            *history.routes,
            *execute.routes,
            *deployments.routes,
            *deployment_executions.routes,
            *workflows.routes,
            *actuals.routes,
            *admin.routes,
            *audit.routes,
            *velt.routes,
            *datalab.routes,
            *payloads.routes,
            *traces.routes,
            *metrics.routes,
            *reference.routes,
        ],
        middleware=[Middleware(AccessLogMiddleware, figures.answered)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = figures
    return app
