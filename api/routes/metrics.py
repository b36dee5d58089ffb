"""`GET /metrics`: the server's figures in Prometheus's text format (api/metrics.py)."""

from __future__ import annotations

import hmac

from prometheus_client import generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import is_admin
from api.errors import Unauthorized
from api.metrics import Metrics

# The classic text format that `generate_latest` writes, which every Prometheus reads (newer
# clients name format 1.0.0, which Debian's Prometheus 2.42 does not know).
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


def _may_scrape(request: Request) -> bool:
    # What Prometheus's `authorization` setting sends: the metrics token, or the admin token.
    if is_admin(request):
        return True
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    tokens = (request.app.state.settings.metrics_token, request.app.state.admin_token)
    return any(
        token and hmac.compare_digest(given.strip().encode(), token.encode()) for token in tokens
    )


async def metrics(request: Request) -> Response:
    """Every figure, for a scraper holding the metrics token (or the admin token): the figures
    span every workspace, so, as with /readyz's positions, a workspace key does not open them."""
    if not _may_scrape(request):
        raise Unauthorized(
            "Authorization: Bearer with RUNLEDGER_METRICS_TOKEN (or the admin token) is required"
        )
    figures: Metrics = request.app.state.metrics
    # The gauges read the log's head: off the event loop.
    body = await run_in_threadpool(generate_latest, figures.registry)
    return Response(body, media_type=TEXT_FORMAT)


routes = [Route("/metrics", metrics, methods=["GET"])]
