"""`GET /v1/workflow-executions[/count|/metrics]`: find executions without their ids.

A filter expression (`q`, the grammar in projections/filter_grammar.py), an order, keyset pages
with an opaque cursor, and counts per group. Every read goes through `Views`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.errors import ApiError
from api.execution_numbers import shown_number
from api.list_shapes import bucket_json, item_json
from api.list_shapes import iso as _iso
from api.routes.executions import min_log_position
from domain.errors import FieldError
from projections.filter_grammar import (
    Expr,
    FilterSyntaxError,
    LiteralError,
    parse_filter,
    parse_time,
)
from projections.list_filters import list_filter
from projections.listing import GROUPS, ListFilter, ListOrder, OrderField
from projections.metrics import MAX_BUCKETS, Interval
from projections.views import Views

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
_ORDERS = ", ".join(f"{field}, -{field}" for field in OrderField)


def _bad(name: str, reason: str) -> ApiError:
    return ApiError(400, f"{name} {reason}", [FieldError(None, name, reason)])


def expression_param(request: Request, name: str) -> Expr | None:
    """The parameter `name` parsed as a filter; a 400 naming the position and the token."""
    text = request.query_params.get(name, "")
    try:
        return parse_filter(text)
    except FilterSyntaxError as error:
        reason = f"at position {error.position} ({error.token!r}): {error.reason}"
        raise _bad(name, reason) from None


def filter_param(request: Request, name: str) -> ListFilter:
    """The parameter `name` as the filter a list applies."""
    return list_filter(expression_param(request, name))


def order_param(request: Request, name: str, default: str = "-started_at") -> ListOrder:
    """`started_at`, `-started_at` (newest first, the default), and so on for each order."""
    raw = request.query_params.get(name) or default
    try:
        return ListOrder(OrderField(raw.removeprefix("-")), descending=raw.startswith("-"))
    except ValueError:
        raise _bad(name, f"must be one of {_ORDERS}, got {raw[:60]!r}") from None


def limit_param(request: Request, name: str, default: int, most: int = MAX_LIMIT) -> int:
    """A whole number from 1 to `most`."""
    raw = request.query_params.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= most:
        raise _bad(name, f"must be a whole number from 1 to {most}, got {raw[:40]!r}")
    return value


def _group_by(request: Request) -> str | None:
    group_by = request.query_params.get("group_by") or None
    if group_by is not None and group_by not in GROUPS:
        raise _bad("group_by", f"must be one of {', '.join(GROUPS)}, got {group_by[:60]!r}")
    return group_by


async def list_executions(request: Request) -> Response:
    """`GET /v1/workflow-executions?q=&ordering=&limit=&cursor=&min_log_position=`."""
    workspace = await require_workspace(request)
    where = filter_param(request, "q")
    order = order_param(request, "ordering")
    limit = limit_param(request, "limit", DEFAULT_LIMIT)
    cursor = request.query_params.get("cursor") or None
    position = min_log_position(request, workspace.id)
    views: Views = request.app.state.views
    page = await run_in_threadpool(
        views.executions, workspace.id, where, order, limit, cursor=cursor, min_position=position
    )
    base = str(request.base_url)
    next_url = None
    if page.next_cursor is not None:
        query = {k: v for k, v in request.query_params.items() if k != "cursor"}
        query["cursor"] = page.next_cursor
        next_url = f"{base}v1/workflow-executions?{urlencode(query)}"
    body: dict[str, Any] = {
        "results": [
            item_json(item, base, shown_number(request, workspace.id, item.listed_position))
            for item in page.items
        ],
        "next_cursor": page.next_cursor,
        "next": next_url,
    }
    return Response(orjson.dumps(body), media_type="application/json")


async def count_executions(request: Request) -> Response:
    """`GET /v1/workflow-executions/count?q=&group_by=`: Temporal's count with GROUP BY."""
    workspace = await require_workspace(request)
    where = filter_param(request, "q")
    group_by = _group_by(request)
    position = min_log_position(request, workspace.id)
    views: Views = request.app.state.views
    count, groups = await run_in_threadpool(
        views.execution_count, workspace.id, where, group_by, position
    )
    body: dict[str, Any] = {"count": count}
    if group_by is not None:
        body["group_by"] = group_by
        body["groups"] = [{"value": g.value, "count": g.execution_count} for g in groups]
    return Response(orjson.dumps(body), media_type="application/json")


DEFAULT_SPAN = timedelta(hours=24)


def _time_param(request: Request, name: str, default: datetime) -> datetime:
    raw = request.query_params.get(name)
    if not raw:
        return default
    try:
        return parse_time(raw)
    except LiteralError as error:
        raise _bad(name, str(error)) from None


async def execution_metrics(request: Request) -> Response:
    """`GET /v1/workflow-executions/metrics?q=&group_by=&interval=&from=&to=`: a time series
    of counts, error rate, duration quantiles, tokens and cost per bucket and group."""
    workspace = await require_workspace(request)
    where = filter_param(request, "q")
    group_by = _group_by(request)
    try:
        interval = Interval(request.query_params.get("interval") or "hour")
    except ValueError:
        choices = ", ".join(i.value for i in Interval)
        raise _bad("interval", f"must be one of {choices}") from None
    end = _time_param(request, "to", datetime.now(UTC))
    start = _time_param(request, "from", end - DEFAULT_SPAN)
    if start >= end:
        raise _bad("from", "must be before `to`")
    if (end - start).total_seconds() / interval.seconds > MAX_BUCKETS:
        raise _bad("interval", f"spans more than {MAX_BUCKETS} buckets from `from` to `to`")
    position = min_log_position(request, workspace.id)
    views: Views = request.app.state.views
    buckets = await run_in_threadpool(
        lambda: views.execution_metrics(
            workspace.id, where, interval, (start, end), group_by, min_position=position
        )
    )
    body: dict[str, Any] = {
        "interval": interval.value,
        "from": _iso(start),
        "to": _iso(end),
        "group_by": group_by,
        "buckets": [bucket_json(bucket) for bucket in buckets],
    }
    return Response(orjson.dumps(body), media_type="application/json")


routes = [
    Route("/v1/workflow-executions", list_executions, methods=["GET"]),
    Route("/v1/workflow-executions/count", count_executions, methods=["GET"]),
    Route("/v1/workflow-executions/metrics", execution_metrics, methods=["GET"]),
]
