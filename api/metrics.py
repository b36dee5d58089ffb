"""The server's own figures for Prometheus: what `GET /metrics` exposes.

Counters and histograms move where things happen: the access log's middleware reports every
request, timed, with its status (an ingest route's answer also counts its batch); the ingest
routes count events; the projection runner reports each batch it makes readable. Gauges (the
log's head, how far projections are, the runtime's runs and workers) are read when Prometheus
scrapes, so an idle server does no work for them. Each app has a registry of its own rather
than the process-wide default: tests run several apps in one process, and a figure must be the
app's own.

No label names a workspace, key, execution or raw path, only route templates and fixed words:
labels Prometheus keeps a series for must stay few, and the figures of one workspace must not
be told to whoever may scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import BaseRoute
from starlette.types import Scope

from projections.runner import BatchApplied
from runtime.executor import RuntimeLoad

# The routes that take batches of events, and the source each one's figures are labelled with.
INGEST_SOURCES = {"/monitoring/v1/events": "events", "/v1/traces": "otlp"}
# Why an ingest request was refused, from its status (the error body says more).
_REFUSALS = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True, slots=True)
class ServerState:
    """What the gauges read at a scrape: the running server's parts, once it has started."""

    log_position: Callable[[], int]
    visible_position: Callable[[], int]
    writing: Callable[[], bool]
    projection_error: Callable[[], str | None]
    runtime_load: Callable[[], RuntimeLoad]


class _StateCollector(Collector):
    """The gauges, read from the live server at each scrape."""

    def __init__(self) -> None:
        self.state: ServerState | None = None

    def collect(self) -> Iterator[Metric]:
        state = self.state
        if state is None:  # not started yet, or stopped
            return
        head, visible = state.log_position(), state.visible_position()
        yield _gauge("runledger_log_position", "The position of the log's newest record.", head)
        yield _gauge(
            "runledger_projection_visible_position",
            "Every log record up to this position is visible in the projections.",
            visible,
        )
        yield _gauge(
            "runledger_projection_backlog_records",
            "Log records appended but not yet visible in the projections.",
            max(0, head - visible),
        )
        yield _gauge(
            "runledger_projection_writer",
            "1 when this process writes the projections (holds the writer lock), else 0.",
            int(state.writing()),
        )
        yield _gauge(
            "runledger_projection_failing",
            "1 while the projection runner's last batch failed (it retries), else 0.",
            int(state.projection_error() is not None),
        )
        load = state.runtime_load()
        runs = GaugeMetricFamily(
            "runledger_runs", "Runs in this process now, by state.", labels=["state"]
        )
        runs.add_metric(["queued"], load.queued)
        runs.add_metric(["running"], load.running)
        yield runs
        finished = CounterMetricFamily(
            "runledger_runs_finished",
            "Runs this process ended since it started, by status.",
            labels=["status"],
        )
        for status, count in sorted(load.finished.items()):
            finished.add_metric([status], count)
        yield finished
        yield _gauge("runledger_workers", "Worker threads that run deployed code.", load.workers)
        yield _gauge("runledger_workers_busy", "Workers running a run now.", load.running)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


class Metrics:
    """One app's figures; `registry` is what `GET /metrics` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._requests = Histogram(
            "runledger_http_request_duration_seconds",
            "Time from a request's arrival to its answer's end, by route template and status.",
            ["method", "route", "status"],
            buckets=_REQUEST_BUCKETS,
            registry=registry,
        )
        self._batches = Counter(
            "runledger_ingest_batches",
            "Ingest requests answered, by source and result: accepted, or why refused.",
            ["source", "result"],
            registry=registry,
        )
        self._events = Counter(
            "runledger_ingest_events",
            "Events of ingest requests, by source and result: accepted (new to the log), "
            "duplicate (already there), or refused with the reason.",
            ["source", "result"],
            registry=registry,
        )
        self._refused_spans = Counter(
            "runledger_otlp_refused_spans",
            "OTLP spans named in an answer's partial_success: not stored, the others were.",
            registry=registry,
        )
        self._projected = Counter(
            "runledger_projected_events",
            "Events the projection runner made visible.",
            registry=registry,
        )
        self._batch_seconds = Histogram(
            "runledger_projection_batch_seconds",
            "Time to write one batch to ClickHouse until reads see it.",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self._lag = Histogram(
            "runledger_projection_lag_seconds",
            "Receipt to visibility of each batch's oldest event (the longest wait in it).",
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self._state = _StateCollector()
        registry.register(self._state)

    def serve(self, state: ServerState | None) -> None:
        """Read the gauges from this server from now on (None: it has stopped)."""
        self._state.state = state

    def answered(self, scope: Scope, status: int, seconds: float) -> None:
        """One answered request (the access log's `on_answered`); an ingest route's answer
        also counts its batch."""
        # The router leaves the route it matched in the scope; a path no route matched has no
        # template, and its raw path would make a series per path.
        matched = scope.get("route")
        route = getattr(matched, "path", "") if isinstance(matched, BaseRoute) else ""
        route = route or "unmatched"
        # Any other method a client sends would make series of its own.
        method = scope["method"] if scope["method"] in _METHODS else "other"
        self._requests.labels(method, route, str(status)).observe(seconds)
        source = INGEST_SOURCES.get(route)
        if source is not None and method == "POST":
            self._batches.labels(source, _result_of(status)).inc()

    def events(self, source: str, accepted: int, duplicate: int) -> None:
        """What an accepted ingest request appended."""
        self._events.labels(source, "accepted").inc(accepted)
        self._events.labels(source, "duplicate").inc(duplicate)

    def refused_events(self, source: str, reason: str, count: int) -> None:
        """Events (or spans) an ingest request named as refused."""
        self._events.labels(source, reason).inc(count)

    def refused_spans(self, count: int) -> None:
        """OTLP spans an answer named as not stored."""
        self._refused_spans.inc(count)

    def batch_applied(self, batch: BatchApplied) -> None:
        """The projection runner's report of one batch (its `on_batch`)."""
        self._projected.inc(batch.events)
        self._batch_seconds.observe(batch.seconds)
        self._lag.observe(batch.oldest_lag_seconds)


def _result_of(status: int) -> str:
    if status < 300:
        return "accepted"
    return _REFUSALS.get(status, "error" if status >= 500 else "refused")
