"""Projection and read benchmarks, each beside a ceiling measured in the same run.

    python -m bench.projections [--quick] [--parts rate,detail,status,lag] [--out DIR]

- rate: `ProjectionRunner.catch_up()` from an empty ClickHouse database over a SQLite log of
  realistic SDK events (replay from zero), beside the column-oriented insert of the same rows
  (prepared before the clock) into the same engine and tables, and into `events` alone.
- detail: `ExecutionDetails.page` of 100 spans at 99 % depth of a 100,000-span execution beside
  its first page (in-process and over HTTP), and full walks of a 20,000-span execution.
- status: `ExecutionQueries.status` with 1,000,000 executions in `executions` beside a
  bare primary-key query on the same table (in-process and over HTTP).
- lag: a `runledger serve` child ingesting batches of 100 at half the rate one client reached
  on it; acknowledgement-to-visibility lag seen by a polling client, and as /readyz reports it.

One chDB engine path per process: every in-process part uses one path, a database each.
See bench/README.md for the method.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson

from bench import _projection_report as report
from bench import _report
from bench._events import EventCloner, batch_bodies
from bench._inthread import app_in_thread
from bench._lag import POLL_SECONDS, max_rate, steady
from bench._latency import ParseTally, Samples, interleaved
from bench._runners import WORKSPACE, Timing, _frozen_heap, _stopwatch, _validated
from bench._server import running_server
from bench._stores import SQLITE, Env, Postgres, fresh_store
from bench._synthetic import insert_executions, sample_executions, wide_execution
from bench._workflow import run_question_answer
from domain.keys import workspace_id_for
from domain.lifecycle import ExecutionStatus
from domain.log import LoggedEvent
from domain.log.ledger import SQLITE_MODULE, Ledger
from projections.clickhouse import SQL_ROOT, connect, split_statements
from projections.detail import ExecutionDetails
from projections.migrations import apply_migrations
from projections.queries import ExecutionQueries
from projections.rows import event_block
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore

PARTS = ("rate", "detail", "status", "lag")
BATCH_SIZE = 5000  # the runner's default batch, and the raw insert's
PAGE_SPANS = 100
DEPTH = 0.99
BASE_DATABASE = "bench_http"
BARE_STATUS = (
    "SELECT count() FROM executions "
    "WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}"
)
_NOT_READ_BY_STATUS = ("span_detail_mv", "span_usage_mv")
LAG_FIXED_RATE = 1000.0  # events/s: well within what one server sustains with projections on
LAG_SHARE = 0.5  # of the rate one client reached posting back to back
LAG_SAMPLES_PER_SECOND = 3
FULL_ROUNDS = 2


@dataclass(frozen=True)
class Sizes:
    """How big each part is: the issue's sizes, or tiny ones for CI."""

    rate_events: int
    detail_spans: int
    walk_spans: int
    small_spans: int
    page_repetitions: int
    page_budget_seconds: float
    http_page_repetitions: int
    status_executions: int
    status_chunk: int
    status_calls: int
    status_budget_seconds: float
    http_status_calls: int
    probe_events: int
    lag_seconds: float
    # Whole walks of the walk execution: in-process at each limit, then over HTTP at 1000.
    walk_limits: tuple[int, ...] = (1000, 100)
    http_walk_repetitions: int = 3


FULL = Sizes(
    rate_events=200_000,
    detail_spans=100_000,
    walk_spans=20_000,
    small_spans=100,
    page_repetitions=300,
    page_budget_seconds=60,
    http_page_repetitions=150,
    status_executions=1_000_000,
    status_chunk=200_000,
    status_calls=2_000,
    status_budget_seconds=60,
    http_status_calls=500,
    probe_events=20_000,
    lag_seconds=30,
)
QUICK = Sizes(
    rate_events=4_000,
    detail_spans=2_000,
    walk_spans=1_000,
    small_spans=100,
    page_repetitions=20,
    page_budget_seconds=5,
    http_page_repetitions=10,
    status_executions=20_000,
    status_chunk=20_000,
    status_calls=100,
    status_budget_seconds=5,
    http_status_calls=30,
    probe_events=1_000,
    lag_seconds=3,
)


def _log(message: str) -> None:
    print(message, flush=True)


# --- projection rate ------------------------------------------------------------------------


def _fill_log(ledger: Ledger, workspace_id: UUID, cloner: EventCloner, count: int) -> None:
    # The ingest use case validates untimed into envelopes, then they are appended in batches of
    # 1000, as bench.ingest's raw append does; a chunk at a time, so the heap stays small, and
    # with the imported SDK's objects frozen out of the garbage collector's full passes.
    chunk = 20_000
    with _frozen_heap():
        for start in range(0, count, chunk):
            bodies = batch_bodies(cloner.take(min(chunk, count - start)), 1000)
            for envelopes in _validated(workspace_id, bodies, 10_000):
                ledger.append(workspace_id, envelopes, datetime.now(UTC))


def _read_log(ledger: Ledger) -> list[list[LoggedEvent]]:
    batches = []
    position = 0
    while events := ledger.read(after=position, limit=BATCH_SIZE):
        batches.append(events)
        position = events[-1].position
    return batches


def _time_runner(ledger: Ledger, client: Any) -> Timing:
    apply_migrations(client)
    runner = ProjectionRunner(ledger, ClickHouseStore(client), batch_size=BATCH_SIZE)
    with _frozen_heap(), _stopwatch() as watch:
        applied = runner.catch_up()
    return Timing(applied, watch.seconds, watch.cpu_seconds)


def _time_insert(blocks: list[tuple[int, bytes]], client: Any, with_views: bool) -> Timing:
    if with_views:
        apply_migrations(client)
    else:
        for statement in split_statements(
            (SQL_ROOT / "migrations" / "0001_events.sql").read_text()
        ):
            client.command(statement)
    # The store's own insert, settings and all, so the two differ only in what the runner adds.
    store = ClickHouseStore(client)
    with _frozen_heap(), _stopwatch() as watch:
        for _, block in blocks:
            store.insert(block)
    return Timing(sum(count for count, _ in blocks), watch.seconds, watch.cpu_seconds)


def _check_projected(client: Any, events: int, executions: int, spans: int) -> None:
    found = client.query(
        "SELECT (SELECT count() FROM events), (SELECT uniqExact(execution_id) FROM "
        "executions), (SELECT uniqExact(execution_id, span_id) FROM span_detail)"
    ).result_rows[0]
    if tuple(found) != (events, executions, spans):
        raise RuntimeError(
            f"projected (events, executions, spans) {tuple(found)}, "
            f"expected {(events, executions, spans)}"
        )


def measure_rate(
    url: str, workdir: Path, cloner: EventCloner, sizes: Sizes, rounds: int
) -> dict[str, Any]:
    """Replay from zero beside the raw column-oriented insert of the same rows."""
    workspace_id = workspace_id_for(WORKSPACE)
    ledger = Ledger(
        {"PERSISTENCE_MODULE": SQLITE_MODULE, "SQLITE_DBNAME": str(workdir / "rate.db")}
    )
    try:
        started = time.perf_counter()
        _fill_log(ledger, workspace_id, cloner, sizes.rate_events)
        fill_seconds = time.perf_counter() - started
        with _stopwatch() as read_watch:
            batches = _read_log(ledger)
        with _frozen_heap(), _stopwatch() as rows_watch:
            blocks = [(len(batch), event_block(batch)) for batch in batches]
        events = sum(len(batch) for batch in batches)
        executions = len({e.execution_id for batch in batches for e in batch})
        spans = len(
            {
                (e.workspace_id, e.execution_id, orjson.loads(e.raw)["span_id"])
                for batch in batches
                for e in batch
            }
        )
        _log(
            f"rate: log of {events:,} events ({executions:,} executions) filled in"
            f" {fill_seconds:.1f} s; read back in {read_watch.seconds:.2f} s,"
            f" blocks encoded in {rows_watch.seconds:.2f} s"
        )
        paths: list[tuple[str, Callable[[Any], Timing]]] = [
            ("runner", lambda client: _time_runner(ledger, client)),
            ("insert", lambda client: _time_insert(blocks, client, with_views=True)),
            ("insert_bare", lambda client: _time_insert(blocks, client, with_views=False)),
        ]
        timings: dict[str, list[Timing]] = {name: [] for name, _ in paths}
        for round_index in range(rounds):
            ordered = paths if round_index % 2 == 0 else paths[::-1]
            for name, measure in ordered:
                database = f"rate_r{round_index + 1}_{name}"
                client = connect(url, database)
                try:
                    timing = measure(client)
                    if name == "runner":
                        _check_projected(client, events, executions, spans)
                    elif timing.acknowledged_count != events:
                        raise RuntimeError(f"{name}: {timing.acknowledged_count} of {events}")
                    client.command("DROP DATABASE {d:Identifier} SYNC", parameters={"d": database})
                finally:
                    client.close()
                timings[name].append(timing)
                _log(
                    f"  {report.RATE_TITLES[name]:44} round {round_index + 1}:"
                    f" {timing.acknowledged_count:>8,} events in {timing.seconds:6.2f} s"
                    f" = {timing.events_per_second:9,.0f}/s"
                )
        return {
            "events": events,
            "executions": executions,
            "spans": spans,
            "batch_size": BATCH_SIZE,
            "payload_mean_bytes": round(
                sum(len(e.raw) for batch in batches for e in batch) / events
            ),
            "log_fill_seconds": fill_seconds,
            "log_read": _timing_json(Timing(events, read_watch.seconds, read_watch.cpu_seconds)),
            "rows": _timing_json(Timing(events, rows_watch.seconds, rows_watch.cpu_seconds)),
            "paths": {name: [_timing_json(t) for t in ts] for name, ts in timings.items()},
        }
    finally:
        ledger.close()


def _timing_json(timing: Timing) -> dict[str, float]:
    return {
        "events": timing.acknowledged_count,
        "seconds": timing.seconds,
        "cpu_seconds": timing.bench_cpu_seconds,
        "events_per_second": timing.events_per_second,
    }


# --- detail pages ---------------------------------------------------------------------------


def _settle(client: Any, timeout: float = 60.0) -> dict[str, int]:
    """Wait until no merge runs in the client's database; its active parts per table."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = client.query(
            "SELECT count() FROM system.merges WHERE database = currentDatabase()"
        ).result_rows[0][0]
        if not running:
            break
        time.sleep(0.2)
    rows = client.query(
        "SELECT table, count() FROM system.parts WHERE database = currentDatabase() AND active "
        "GROUP BY table ORDER BY table"
    ).result_rows
    return {str(table): int(count) for table, count in rows}


def _span_order(client: Any, workspace_id: UUID, execution_id: UUID) -> list[UUID]:
    rows = client.query(
        "SELECT span_id FROM span_detail WHERE workspace_id = {w:UUID} AND execution_id = {e:UUID} "
        "ORDER BY span_position, span_id LIMIT 1 BY span_position, span_id",
        parameters={"w": workspace_id, "e": execution_id},
    ).result_rows
    return [row[0] for row in rows]


def _walk(
    details: ExecutionDetails, workspace_id: UUID, execution_id: UUID, limit: int
) -> tuple[int, float, list[UUID]]:
    """Every page of the execution, `limit` spans each: (pages, seconds, span ids in order)."""
    pages = 0
    seen: list[UUID] = []
    previous: UUID | None = None
    with _frozen_heap(), _stopwatch() as watch:
        while True:
            page = details.page(workspace_id, execution_id, previous, limit)
            pages += 1
            seen.extend(span.span_id for span in page.spans)
            if not page.has_more:
                break
            previous = page.spans[-1].span_id
    return pages, watch.seconds, seen


def _http_walk(
    http: httpx.Client, execution_id: UUID, limit: int, tally: ParseTally
) -> tuple[int, float, list[UUID]]:
    """Every page over HTTP, `limit` spans each, answers parsed: (pages, seconds, span ids)."""
    pages = 0
    seen: list[UUID] = []
    params: dict[str, str | int] = {"span_limit": limit}
    with _frozen_heap(), _stopwatch() as watch:
        while True:
            response = http.get(f"/v1/workflow-executions/{execution_id}/detail", params=params)
            if response.status_code != 200:
                raise RuntimeError(f"detail answered {response.status_code}: {response.text[:300]}")
            page = tally.loads(response.content)
            pages += 1
            seen.extend(UUID(span["span_id"]) for span in page["spans"])
            if not page["has_more"]:
                break
            params["prev_span_id"] = page["spans"][-1]["span_id"]
    return pages, watch.seconds, seen


def _http_page(http: httpx.Client, execution_id: UUID, previous: UUID | None, spans: int) -> None:
    params: dict[str, str | int] = {"span_limit": PAGE_SPANS}
    if previous is not None:
        params["prev_span_id"] = str(previous)
    response = http.get(f"/v1/workflow-executions/{execution_id}/detail", params=params)
    if response.status_code != 200:
        raise RuntimeError(f"detail answered {response.status_code}: {response.text[:300]}")
    if len(orjson.loads(response.content)["spans"]) != spans:
        raise RuntimeError("a detail page over HTTP had the wrong number of spans")


def measure_detail(url: str, env: Env, sizes: Sizes) -> dict[str, Any]:
    """First page against the page at 99 % depth; whole walks with span_limit 1000 and 100."""
    workspace_id = workspace_id_for(WORKSPACE)
    database = "detail"
    writer = connect(url, database)
    reader = connect(url, database)
    header_reader = connect(url, database)
    details = ExecutionDetails(reader, header_reader)  # as the server reads a page
    try:
        apply_migrations(writer)
        store = ClickHouseStore(writer)
        received_at = datetime.now(UTC)
        executions = {}
        position = 0
        apply_seconds = 0.0
        for name, span_count in (
            ("deep", sizes.detail_spans),
            ("walk", sizes.walk_spans),
            ("small", sizes.small_spans),
        ):
            made = wide_execution(workspace_id, span_count, position, received_at)
            position = made.events[-1].position
            started = time.perf_counter()
            for start in range(0, len(made.events), BATCH_SIZE):
                store.apply(made.events[start : start + BATCH_SIZE])
            apply_seconds += time.perf_counter() - started
            executions[name] = made.execution_id
        parts = _settle(writer)
        _log(
            f"detail: executions of {sizes.detail_spans:,}, {sizes.walk_spans:,} and"
            f" {sizes.small_spans:,} spans projected ({position:,} events in"
            f" {apply_seconds:.1f} s through ClickHouseStore.apply); parts {parts}"
        )
        deep_id, small_id, walk_id = executions["deep"], executions["small"], executions["walk"]
        order = _span_order(reader, workspace_id, deep_id)
        depth = int(DEPTH * len(order))
        cursor = order[depth - 1]
        walk_order = _span_order(reader, workspace_id, walk_id)
        walk_depth = int(DEPTH * len(walk_order))
        walk_cursor = walk_order[walk_depth - 1]
        first = details.page(workspace_id, deep_id, None, PAGE_SPANS)
        deep = details.page(workspace_id, deep_id, cursor, PAGE_SPANS)
        walk_deep = details.page(workspace_id, walk_id, walk_cursor, PAGE_SPANS)
        if (
            [s.span_id for s in first.spans] != order[:PAGE_SPANS]
            or [s.span_id for s in deep.spans] != order[depth : depth + PAGE_SPANS]
            or [s.span_id for s in walk_deep.spans]
            != walk_order[walk_depth : walk_depth + PAGE_SPANS]
        ):
            raise RuntimeError("a detail page did not hold the spans the keyset order names")

        pages = interleaved(
            {
                "first": lambda _: details.page(workspace_id, deep_id, None, PAGE_SPANS),
                "deep": lambda _: details.page(workspace_id, deep_id, cursor, PAGE_SPANS),
                "small": lambda _: details.page(workspace_id, small_id, None, PAGE_SPANS),
                "walk_deep": lambda _: details.page(workspace_id, walk_id, walk_cursor, PAGE_SPANS),
            },
            sizes.page_repetitions,
            sizes.page_budget_seconds,
        )
        _log_samples("detail, in-process", pages)

        with app_in_thread(env, WORKSPACE, database) as server:
            headers = {"X-API-KEY": server.api_key}
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
                http_pages = interleaved(
                    {
                        "first": lambda _: _http_page(http, deep_id, None, PAGE_SPANS),
                        "deep": lambda _: _http_page(http, deep_id, cursor, len(deep.spans)),
                        "small": lambda _: _http_page(http, small_id, None, PAGE_SPANS),
                        "walk_deep": lambda _: _http_page(
                            http, walk_id, walk_cursor, len(walk_deep.spans)
                        ),
                    },
                    sizes.http_page_repetitions,
                    sizes.page_budget_seconds / 2,
                )
                http_walks = []
                for _ in range(sizes.http_walk_repetitions):
                    tally = ParseTally()
                    page_count, seconds, seen = _http_walk(http, walk_id, 1000, tally)
                    if seen != walk_order:
                        raise RuntimeError("the HTTP walk did not see every span once, in order")
                    http_walks.append({"pages": page_count, "seconds": seconds, **tally.summary()})
                    _log(
                        f"  walk of {len(seen):,} spans over HTTP, span_limit 1000:"
                        f" {page_count} pages in {seconds:.2f} s"
                    )
        _log_samples("detail, HTTP", http_pages)

        walks = []
        for limit in sizes.walk_limits:
            page_count, seconds, seen = _walk(details, workspace_id, executions["walk"], limit)
            if seen != walk_order:
                raise RuntimeError(f"the walk at span_limit {limit} did not see every span once")
            walks.append(
                {
                    "spans": len(seen),
                    "span_limit": limit,
                    "pages": page_count,
                    "seconds": seconds,
                }
            )
            _log(
                f"  walk of {len(seen):,} spans, span_limit {limit}:"
                f" {page_count} pages in {seconds:.2f} s"
            )
        return {
            "deep_execution_spans": len(order),
            "walk_execution_spans": len(walk_order),
            "small_execution_spans": sizes.small_spans + 1,
            "deep_cursor_index": depth - 1,
            "walk_deep_cursor_index": walk_depth - 1,
            "events_projected": position,
            "apply_seconds": apply_seconds,
            "parts": parts,
            "pages": {name: samples.summary() for name, samples in pages.items()},
            "http_pages": {name: samples.summary() for name, samples in http_pages.items()},
            "walks": walks,
            "http_walks": http_walks,
        }
    finally:
        writer.command("DROP DATABASE IF EXISTS {d:Identifier} SYNC", parameters={"d": database})
        details.close()
        header_reader.close()
        reader.close()
        writer.close()


def _log_samples(title: str, found: dict[str, Samples]) -> None:
    for name, samples in found.items():
        _log(
            f"  {title:20} {name:8} {samples.count:5} calls: p50 {samples.p50 * 1e3:8.2f} ms,"
            f" p99 {samples.p99 * 1e3:8.2f} ms"
        )


# --- status ---------------------------------------------------------------------------------


def measure_status(url: str, env: Env, sizes: Sizes) -> dict[str, Any]:
    """`ExecutionQueries.status` beside a bare primary-key query, 1,000,000 executions stored."""
    workspace_id = workspace_id_for(WORKSPACE)
    database = "status"
    writer = connect(url, database)
    reader = connect(url, database)
    try:
        apply_migrations(writer)
        # Status reads `executions` alone: the views that feed the detail and usage tables
        # would only slow the load of 2,000,000 events (span_detail_mv is two thirds of what
        # the views cost, bench/README.md), not change a row that status reads.
        for unread in _NOT_READ_BY_STATUS:
            writer.command("DROP VIEW {v:Identifier}", parameters={"v": unread})
        started = time.perf_counter()
        for offset in range(0, sizes.status_executions, sizes.status_chunk):
            count = min(sizes.status_chunk, sizes.status_executions - offset)
            insert_executions(writer, workspace_id, offset, count)
        insert_seconds = time.perf_counter() - started
        parts = _settle(writer)
        stored = writer.query("SELECT uniqExact(execution_id) FROM executions").result_rows
        if stored[0][0] != sizes.status_executions:
            raise RuntimeError(f"{stored[0][0]} executions stored, not {sizes.status_executions}")
        _log(
            f"status: {sizes.status_executions:,} executions ({2 * sizes.status_executions:,}"
            f" events) inserted in {insert_seconds:.1f} s; parts {parts}"
        )
        warmup = 5
        ids = sample_executions(writer, workspace_id, sizes.status_calls + warmup)
        queries = ExecutionQueries(reader)
        for execution_id in ids[:20]:
            view = queries.status(workspace_id, execution_id).summary
            if view is None or view.status is not ExecutionStatus.FULFILLED:
                raise RuntimeError(f"status of {execution_id}: {view}")

        def bare(index: int) -> None:
            params = {"workspace_id": workspace_id, "execution_id": ids[index % len(ids)]}
            if reader.query(BARE_STATUS, parameters=params).result_rows[0][0] != 1:
                raise RuntimeError("the bare query did not find the execution")

        in_process = interleaved(
            {
                "status": lambda index: queries.status(workspace_id, ids[index % len(ids)]),
                "bare": bare,
            },
            sizes.status_calls,
            sizes.status_budget_seconds,
            warmup=warmup,
        )
        _log_samples("status, in-process", in_process)

        with app_in_thread(env, WORKSPACE, database) as server:
            headers = {"X-API-KEY": server.api_key}
            with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:

                def http_status(index: int) -> None:
                    execution_id = ids[index % len(ids)]
                    response = http.get(f"/v1/workflows/executions/{execution_id}/status")
                    if response.status_code != 200:
                        raise RuntimeError(f"status answered {response.status_code}")

                over_http = interleaved(
                    {"status": http_status, "bare": bare},
                    sizes.http_status_calls,
                    sizes.status_budget_seconds / 2,
                    warmup=warmup,
                )
        _log_samples("status, HTTP", over_http)
        return {
            "executions": sizes.status_executions,
            "events": 2 * sizes.status_executions,
            "insert_seconds": insert_seconds,
            "parts": parts,
            "in_process": {name: s.summary() for name, s in in_process.items()},
            "http": {name: s.summary() for name, s in over_http.items()},
        }
    finally:
        writer.command("DROP DATABASE IF EXISTS {d:Identifier} SYNC", parameters={"d": database})
        reader.close()
        writer.close()


# --- lag ------------------------------------------------------------------------------------


def measure_lag(
    cloner: EventCloner,
    sizes: Sizes,
    logs: Path,
    fixed_rate: float | None,
    probe_rate: float | None = None,
    with_fixed: bool = True,
) -> dict[str, Any]:
    """Steady ingest against a fresh server each: a fixed conservative rate, and half the rate
    one client reached posting back to back (probed here unless `probe_rate` is given); the
    lag a polling client sees, and /readyz's."""
    postgres = Postgres()  # unused: the lag runs on the embedded default (SQLite, chDB)
    warmup = batch_bodies(cloner.take(200), 100)
    rates: list[tuple[str, float]] = [("fixed", fixed_rate)] if fixed_rate else []
    if fixed_rate is None:
        if probe_rate is None:
            probe = batch_bodies(cloner.take(sizes.probe_events), 100)
            with (
                fresh_store(SQLITE, "lag-probe", postgres) as env,
                running_server(env, WORKSPACE, logs / "server-lag-probe.log") as server,
            ):
                probe_rate = max_rate(server.base_url, server.api_key, probe, warmup)
            _log(f"lag: one client posting batches of 100 back to back: {probe_rate:,.0f} ev/s")
        rates = [("fixed", LAG_FIXED_RATE)] if with_fixed else []
        rates.append((f"{LAG_SHARE:g} of the probe", LAG_SHARE * probe_rate))
    runs = []
    for index, (basis, rate) in enumerate(rates):
        batches_per_second = rate / 100
        batch_count = max(1, round(batches_per_second * sizes.lag_seconds))
        bodies = batch_bodies(cloner.take(batch_count * 100), 100)
        sample_every = max(1, round(batches_per_second / LAG_SAMPLES_PER_SECOND))
        with (
            fresh_store(SQLITE, f"lag{index}", postgres) as env,
            running_server(env, WORKSPACE, logs / f"server-lag-{index + 1}.log") as server,
        ):
            run = steady(
                server.base_url,
                server.api_key,
                server.pid,
                bodies,
                batch_bodies(cloner.take(200), 100),
                batches_per_second,
                sample_every,
            )
        projections = run.readyz["projections"]
        _log(
            f"  steady {run.events_per_second:,.0f} events/s (target {rate:,.0f}) for"
            f" {run.seconds:.1f} s: client lag p50 {run.client_lag.p50 * 1e3:.1f} ms,"
            f" p99 {run.client_lag.p99 * 1e3:.1f} ms ({run.client_lag.count} samples);"
            f" /readyz p50 {projections['lag_p50_seconds'] * 1e3:.1f} ms,"
            f" p99 {projections['lag_p99_seconds'] * 1e3:.1f} ms"
        )
        runs.append(
            {
                "rate_basis": basis,
                "target_events_per_second": rate,
                "events": run.events_count,
                "seconds": run.seconds,
                "events_per_second": run.events_per_second,
                "max_slip_seconds": run.max_slip_seconds,
                "sample_every_batches": sample_every,
                "client_lag": run.client_lag.summary(),
                "poll_round_trip": run.poll_round_trip.summary(),
                "server_cpu_seconds": run.server_cpu_seconds,
                "readyz": run.readyz,
            }
        )
    return {"probe_events_per_second": probe_rate, "poll_seconds": POLL_SECONDS, "runs": runs}


# --- the run --------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.projections", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI (< 1 minute)")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"projection-rate rounds; the best counts (default {FULL_ROUNDS}, 1 if --quick)",
    )
    parser.add_argument(
        "--lag-rate", type=float, help="events/s for the lag run (default: half the probed rate)"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="results folder")
    args = parser.parse_args(argv)
    args.parts = [name.strip() for name in args.parts.split(",") if name.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the parts, print the tables, write JSON and Markdown."""
    args = parse_args(argv)
    started = time.monotonic()
    sizes = QUICK if args.quick else FULL
    rounds = args.rounds or (1 if args.quick else FULL_ROUNDS)
    meta: dict[str, Any] = {
        "benchmark": "projections",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "parts": args.parts,
        "sizes": sizes.__dict__,
        "rate_rounds": rounds,
        "machine": _report.machine(),
        "versions": _report.versions(),
        "source": _report.source_revision(),
    }
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="runledger-bench-projections-"))
    # The one chDB engine path of this process; each part works in a database of its own.
    url = f"chdb://{workdir / 'chdb'}"
    http_env: Env = {
        "RUNLEDGER_DATA_DIR": str(workdir / "http"),
        "PERSISTENCE_MODULE": SQLITE_MODULE,
        "SQLITE_DBNAME": str(workdir / "http" / "log.sqlite"),
        "RUNLEDGER_CLICKHOUSE_URL": url,
        "RUNLEDGER_CLICKHOUSE_DATABASE": BASE_DATABASE,
    }
    results: dict[str, Any] = {}
    try:
        cloner = EventCloner(run_question_answer("how far behind the log are the projections?"))
        if "rate" in args.parts:
            results["rate"] = measure_rate(url, workdir, cloner, sizes, rounds)
        if "detail" in args.parts:
            results["detail"] = measure_detail(url, http_env, sizes)
        if "status" in args.parts:
            results["status"] = measure_status(url, http_env, sizes)
        if "lag" in args.parts:
            results["lag"] = measure_lag(cloner, sizes, logs, args.lag_rate)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    meta["load_average_after"] = os.getloadavg()
    meta["elapsed_seconds"] = round(time.monotonic() - started, 1)
    tables = report.tables(results)
    for title, header, rows in tables:
        print(f"\n{title}\n")
        print(_report.text_table(header, rows))
    stem = "projections-quick" if args.quick else "projections"
    json_path, md_path = report.write(args.out, stem, meta, results, tables)
    print(f"\nwrote {json_path} and {md_path} in {meta['elapsed_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
