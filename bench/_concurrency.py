"""Many clients at once, each posting its own executions and reading them back, for a fixed time.

A fresh `runledger serve` child process (the embedded default: SQLite log, chDB, projection
thread) is driven by one client, then by `clients` at once, each phase for a fixed time. Every
client loops with no pause: POST one execution's events as one batch (as the SDK's emitter
sends them), then GET its status, then its detail, both with `min_log_position` set to the
`log_position` the POST answered, passed back verbatim (a client treats it as an opaque token).
Each read must show the whole execution: its terminal status, every span, no further page.

Per phase and route: the count, p50 and p99 of every answered request, and every request not
answered 200 (by status), not answered at all (by transport error), or answered 200 wrongly.
The server's VmRSS is sampled all along and its VmHWM (peak RSS) read once the projections have
caught up. Then the server is stopped and its log read directly: every event it acknowledged
must be there (the log is the truth; projections are rebuilt from it).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._events import EventCloner
from bench._latency import Samples
from bench._rss import GIB, SAMPLE_SECONDS, _caught_up, memory_kib
from bench._runners import EVENTS_PATH, WORKSPACE, _frozen_heap, process_cpu_seconds
from bench._server import Server, running_server
from bench._stores import SQLITE, Env, Postgres, fresh_store, open_log

ROUTES = {
    "ingest": "POST /monitoring/v1/events",
    "status": "GET /v1/workflows/executions/{id}/status",
    "detail": "GET /v1/workflow-executions/{id}/detail",
}
WRONG = "200, wrong answer"
CLIENT_TIMEOUT_SECONDS = 120.0
LOG_PAGE = 10_000
Position = str  # what ingest answers as `log_position`: an opaque token, sent back as it came


@dataclass(frozen=True)
class Sizes:
    """How many clients, for how long."""

    clients: int
    seconds: float  # the many-client phase
    one_client_seconds: float
    warmup_executions: int = 5


FULL = Sizes(clients=50, seconds=60.0, one_client_seconds=20.0)
QUICK = Sizes(clients=4, seconds=3.0, one_client_seconds=2.0)


@dataclass(frozen=True)
class _Expected:
    """What reads of one execution must show once its whole batch is visible."""

    execution_id: str
    status: str
    span_count: int

    @classmethod
    def of(cls, events: list[dict[str, Any]]) -> _Expected:
        root = next(
            e
            for e in events
            if e["name"] == "workflow.execution.initiated"
            and (e.get("parent") or {}).get("type") != "WORKFLOW"
        )
        ends = {e["name"] for e in events if e["span_id"] == root["span_id"]}
        status = next(
            (s for s in ("FULFILLED", "REJECTED") if f"workflow.execution.{s.lower()}" in ends),
            None,
        )
        if status is None:
            raise ValueError("the template execution has no outcome for reads to check")
        return cls(root["span_id"], status, len({e["span_id"] for e in events}))


@dataclass
class _Tally:
    """One client's outcomes in one phase."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: {r: [] for r in ROUTES})
    errors: dict[str, Counter[str]] = field(default_factory=lambda: {r: Counter() for r in ROUTES})
    acknowledged: list[str] = field(default_factory=list)  # event ids answered 200
    # Events of batches with no 200 answer: stored or not, the client cannot know.
    unacknowledged_count: int = 0


def _timed(
    http: httpx.Client, tally: _Tally, route: str, request: httpx.Request
) -> dict[str, Any] | None:
    """Send; the parsed 200 answer, or None (the outcome counted by status or error)."""
    started = time.perf_counter()
    try:
        response = http.send(request)
    except httpx.HTTPError as error:
        tally.errors[route][type(error).__name__] += 1
        return None
    tally.seconds[route].append(time.perf_counter() - started)
    if response.status_code != 200:
        tally.errors[route][str(response.status_code)] += 1
        return None
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        tally.errors[route][WRONG] += 1
        return None
    return answer


def _one_execution(http: httpx.Client, events: list[bytes], tally: _Tally) -> None:
    """Post one execution, then read its status and detail as of what the post answered."""
    body = b"[" + b",".join(events) + b"]"
    parsed = orjson.loads(body)
    expected = _Expected.of(parsed)
    answer = _timed(http, tally, "ingest", http.build_request("POST", EVENTS_PATH, content=body))
    if answer is None:
        tally.unacknowledged_count += len(parsed)
        return
    tally.acknowledged.extend(e["id"] for e in parsed)
    position = answer.get("log_position")
    if answer.get("accepted_count") != len(parsed) or not isinstance(position, str):
        tally.errors["ingest"][WRONG] += 1
        return
    wait: dict[str, Position] = {"min_log_position": position}
    status = _timed(
        http,
        tally,
        "status",
        http.build_request(
            "GET", f"/v1/workflows/executions/{expected.execution_id}/status", params=wait
        ),
    )
    if status is not None and status.get("status") != expected.status:
        tally.errors["status"][WRONG] += 1
    detail = _timed(
        http,
        tally,
        "detail",
        http.build_request(
            "GET", f"/v1/workflow-executions/{expected.execution_id}/detail", params=wait
        ),
    )
    if detail is not None and (
        detail.get("status") != expected.status
        or len(detail.get("spans", ())) != expected.span_count
        or detail.get("has_more") is not False
    ):
        tally.errors["detail"][WRONG] += 1


def _client(server: Server) -> httpx.Client:
    headers = {"X-API-KEY": server.api_key, "Content-Type": "application/json"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=CLIENT_TIMEOUT_SECONDS)


def run_phase(
    server: Server,
    cloner: EventCloner,
    clients: int,
    seconds: float,
    on_start: Callable[[], object] = lambda: None,
) -> tuple[dict[str, Any], list[str]]:
    """`clients` looping for `seconds` (each finishes the execution it is on), `on_start` called
    once all are connected; the summary, and the ids of the events acknowledged."""
    stop = threading.Event()
    barrier = threading.Barrier(clients + 1)
    tallies = [_Tally() for _ in range(clients)]
    failures: list[BaseException] = []

    def loop(tally: _Tally) -> None:
        # Each client clones its own executions: a generator serves one thread at a time.
        executions: Iterator[list[bytes]] = cloner.executions()
        with _client(server) as http:
            barrier.wait()
            try:
                while not stop.is_set():
                    _one_execution(http, next(executions), tally)
            except BaseException as error:
                failures.append(error)

    threads = [
        threading.Thread(target=loop, args=(t,), name=f"bench-client-{n}", daemon=True)
        for n, t in enumerate(tallies)
    ]
    for thread in threads:
        thread.start()
    with _frozen_heap():
        barrier.wait()
        on_start()
        server_cpu = process_cpu_seconds(server.pid)
        bench_cpu = time.process_time()
        started = time.perf_counter()
        stop.wait(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        server_cpu = process_cpu_seconds(server.pid) - server_cpu
        bench_cpu = time.process_time() - bench_cpu
    if failures:
        raise RuntimeError(f"{len(failures)} client(s) failed") from failures[0]
    routes = {}
    for route in ROUTES:
        latencies = [s for t in tallies for s in t.seconds[route]]
        errors: Counter[str] = sum((t.errors[route] for t in tallies), Counter())
        routes[route] = {
            **(Samples(latencies).summary() if latencies else {"count": 0}),
            "requests_per_second": len(latencies) / elapsed,
            "errors": dict(errors),
        }
    acknowledged = [event_id for t in tallies for event_id in t.acknowledged]
    summary = {
        "clients": clients,
        "load_seconds": seconds,
        "seconds": elapsed,
        "acknowledged_count": len(acknowledged),
        "unacknowledged_count": sum(t.unacknowledged_count for t in tallies),
        "server_cpu_seconds": server_cpu,
        "bench_cpu_seconds": bench_cpu,
        "routes": routes,
    }
    return summary, acknowledged


def warm_up(server: Server, cloner: EventCloner, executions: int) -> tuple[_Tally, list[str]]:
    """One client, a few executions: connections, first-statement plans, lazy imports."""
    tally = _Tally()
    with _client(server) as http:
        for events in itertools.islice(cloner.executions(), executions):
            _one_execution(http, events, tally)
    return tally, tally.acknowledged


def _log_check(env: Env, acknowledged: set[str]) -> dict[str, Any]:
    """Read the whole log directly: which acknowledged events it does not hold."""
    started = time.perf_counter()
    stored: set[str] = set()
    ledger = open_log(env)
    try:
        after = 0
        while page := ledger.read(after, LOG_PAGE):
            stored.update(orjson.loads(event.raw)["id"] for event in page)
            after = page[-1].position
    finally:
        ledger.close()
    missing = acknowledged - stored
    return {
        "acknowledged_count": len(acknowledged),
        "stored_count": len(stored),
        "missing_count": len(missing),
        "missing_sample": sorted(missing)[:20],
        # Stored although never acknowledged: a batch whose answer was lost (not a defect).
        "stored_unacknowledged_count": len(stored - acknowledged),
        "seconds": time.perf_counter() - started,
    }


def measure_concurrency(cloner: EventCloner, sizes: Sizes, logs: Path) -> dict[str, Any]:
    """One client, then `sizes.clients`, against one fresh server; then the log checked."""
    samples: list[dict[str, Any]] = []
    phase = {"name": "warm-up"}  # what the sampler files its samples under
    with fresh_store(SQLITE, "concurrency", Postgres()) as env:
        with running_server(env, WORKSPACE, logs / "server-concurrency.log") as server:
            done = threading.Event()

            def sample() -> None:
                while not done.is_set():
                    rss = memory_kib(server.pid)["VmRSS"]
                    samples.append({"phase": phase["name"], "rss_kib": rss})
                    done.wait(SAMPLE_SECONDS)

            sampler = threading.Thread(target=sample, name="bench-concurrency-rss", daemon=True)
            sampler.start()
            try:
                warm, acknowledged = warm_up(server, cloner, sizes.warmup_executions)
                one, more = run_phase(
                    server, cloner, 1, sizes.one_client_seconds, lambda: phase.update(name="one")
                )
                acknowledged += more
                many, more = run_phase(
                    server,
                    cloner,
                    sizes.clients,
                    sizes.seconds,
                    lambda: phase.update(name="many"),
                )
                acknowledged += more
                phase["name"] = "catching up"
                with _client(server) as http:
                    readyz = _caught_up(http, 120.0)
            finally:
                done.set()
                sampler.join()
            peak_kib = memory_kib(server.pid)["VmHWM"]
        # The server has stopped (SIGTERM, as an operator stops it): its log is final.
        log = _log_check(env, set(acknowledged))
    warm_errors = {route: dict(errors) for route, errors in warm.errors.items() if errors}
    return {
        "clients": sizes.clients,
        "phases": {"one": one, "many": many},
        "warmup": {"executions": sizes.warmup_executions, "errors": warm_errors},
        "log": log,
        "peak_rss_kib": peak_kib,
        "peak_rss_gib": peak_kib * 1024 / GIB,
        "phase_peak_rss_gib": {
            name: max(s["rss_kib"] for s in samples if s["phase"] == name) * 1024 / GIB
            for name in dict.fromkeys(s["phase"] for s in samples)
        },
        "readyz": readyz,
        "rss_samples": samples,
    }


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:,.1f}"


def error_text(errors: dict[str, int]) -> str:
    """`503: 2, ReadTimeout: 1`, or `0`."""
    if not errors:
        return "0"
    return ", ".join(f"{name}: {count:,}" for name, count in sorted(errors.items()))


def concurrency_tables(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Per phase and route the latencies and errors; then the run's totals."""
    one = result["phases"]["one"]["routes"]
    rows = []
    for name, phase in result["phases"].items():
        clients = phase["clients"]
        for route, title in ROUTES.items():
            found = phase["routes"][route]
            base = one[route].get("p50_seconds")
            p99 = found.get("p99_seconds")
            rows.append(
                [
                    f"{clients} client{'s' if clients > 1 else ''}",
                    title,
                    f"{found['count']:,}",
                    f"{found['requests_per_second']:,.1f}",
                    _ms(found.get("p50_seconds")),
                    _ms(p99),
                    _ms(found.get("max_seconds")),
                    f"{p99 / base:,.1f}" if name == "many" and p99 and base else "-",
                    error_text(found["errors"]),
                ]
            )
    header = [
        "clients",
        "route",
        "answered",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p99 / 1 client's p50",
        "not 200 or wrong",
    ]
    log = result["log"]
    totals = []
    for name, phase in result["phases"].items():
        totals.append(
            [
                f"{phase['clients']}",
                f"{phase['seconds']:.1f}",
                f"{phase['acknowledged_count']:,}",
                f"{phase['acknowledged_count'] / phase['seconds']:,.0f}",
                f"{phase['unacknowledged_count']:,}",
                f"{phase['server_cpu_seconds'] / phase['seconds']:.2f}",
                f"{phase['bench_cpu_seconds'] / phase['seconds']:.2f}",
                f"{result['phase_peak_rss_gib'].get(name, 0.0):.2f}",
            ]
        )
    totals_header = [
        "clients",
        "seconds",
        "events acknowledged",
        "ev/s",
        "events unacknowledged",
        "server CPU cores",
        "bench CPU cores",
        "VmRSS max GiB",
    ]
    title = (
        f"Concurrency: events acknowledged {log['acknowledged_count']:,}, missing from the log"
        f" {log['missing_count']:,}; peak RSS (VmHWM) {result['peak_rss_gib']:.2f} GiB"
    )
    return [
        ("Concurrency: each client posts an execution, reads its status and detail", header, rows),
        (title, totals_header, totals),
    ]
