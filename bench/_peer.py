"""Phoenix measured as Runledger is: ingest until queryable, a deep page, a whole trace.

- ingest: copies of the benchmark's SDK workflow (the events `bench.ingest` posts, as spans:
  3 per execution) sent in one go by the OTLP/HTTP exporter; spans/s from the first span
  begun to the moment Phoenix's GraphQL `recordCount` holds them all (polled every 0.1 s:
  Phoenix answers the export before it stores the spans).
- a large trace: the detail benchmark's walk execution (`bench._synthetic.wide_execution`,
  1 root and N node spans with the same bodies) as one trace, then retrieved through the REST
  API the way a client reads it: `GET /v1/projects/{project}/spans?trace_id=&sort=id&order=asc
  &limit=&cursor=`, a keyset page on the span row id (Phoenix's insertion order); a whole walk
  at 1000 spans a page (its largest), and the page of 100 at 99 % depth beside the first page,
  interleaved as `bench._latency` does for Runledger's pages.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._latency import ParseTally, interleaved
from bench._phoenix import PHOENIX_VERSION, ensure_venv, running_phoenix, send, spans_of, walk
from bench._phoenix import spans_page as phoenix_page
from bench._runners import WORKSPACE, _frozen_heap, _stopwatch, process_cpu_seconds
from bench._synthetic import wide_execution
from domain.envelope import Json
from domain.keys import workspace_id_for

DEPTH = 0.99
PAGE_SPANS = 100
WALK_LIMIT = 1000  # the largest page Phoenix's REST API serves


@dataclass(frozen=True)
class PeerSizes:
    """How much Phoenix is given: its ingest (~200 spans/s here) bounds the whole suite."""

    executions: int  # copies of the 3-span SDK workflow
    wide_spans: int  # node spans of the large trace (plus its root)
    walk_repetitions: int
    page_repetitions: int
    page_budget_seconds: float
    timeout_seconds: float  # for the ingest's send to become queryable
    # For the large trace, from the end of what runs while it loads: Phoenix stores 60-160
    # spans/s on the 2-vCPU hosts of bench/README.md, so 20,001 spans take 2-6 minutes.
    wide_timeout_seconds: float


def _log(message: str) -> None:
    print(message, flush=True)


def measure_phoenix(
    template: list[Json],
    sizes: PeerSizes,
    logs: Path,
    while_loading: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Install if needed, start, ingest, retrieve; `{"skipped": why}` if it cannot be had.

    `while_loading` runs while Phoenix stores the large trace (minutes of one core: its bulk
    inserter is one asyncio task), after the ingest measurement and before the retrievals, so
    each of Phoenix's timed figures has the machine to itself; the large trace's own rate is
    then not comparable and is reported as loaded alongside it.
    """
    started = time.monotonic()
    reason = ensure_venv(logs / "phoenix-install.log")
    if reason is not None:
        _log(f"phoenix: SKIPPED, {reason}")
        return {"skipped": reason}
    install_seconds = time.monotonic() - started
    _log(f"phoenix: arize-phoenix {PHOENIX_VERSION} ready in its venv ({install_seconds:.0f} s)")
    with running_phoenix(logs / "phoenix.log") as phoenix:
        _log(f"phoenix: serving at {phoenix.base_url} ({time.monotonic() - started:.0f} s)")
        execution = spans_of(template)
        expected = len(execution) * sizes.executions
        cpu_started = process_cpu_seconds(phoenix.pid)
        sent = send(
            phoenix, "executions", [execution], sizes.executions, expected, sizes.timeout_seconds
        )
        cpu = process_cpu_seconds(phoenix.pid) - cpu_started
        ingest_seconds = sent.queryable_at - sent.started_at
        ingest = {
            "executions": sizes.executions,
            "spans": sent.span_count,
            "spans_per_execution": len(execution),
            "events_per_execution": len(template),
            "sent_seconds": sent.flushed_at - sent.started_at,
            "queryable_seconds": ingest_seconds,
            "spans_per_second": sent.span_count / ingest_seconds,
            "cpu_ms_per_span": cpu / sent.span_count * 1e3,
        }
        _log(
            f"  ingest: {sent.span_count:,} spans ({sizes.executions:,} executions) queryable"
            f" after {ingest_seconds:.1f} s = {ingest['spans_per_second']:,.0f} spans/s"
        )
        wide = wide_execution(workspace_id_for(WORKSPACE), sizes.wide_spans, 0, datetime.now(UTC))
        wide_spans = spans_of([orjson.loads(event.raw) for event in wide.events])
        sent_wide = send(
            phoenix,
            "wide",
            [wide_spans],
            1,
            len(wide_spans),
            sizes.wide_timeout_seconds,
            while_loading,
        )
        wide_seconds = sent_wide.queryable_at - sent_wide.started_at
        alongside = " (loaded alongside another part)" if while_loading is not None else ""
        _log(
            f"  large trace: {len(wide_spans):,} spans queryable after {wide_seconds:.1f} s"
            f" = {len(wide_spans) / wide_seconds:,.0f} spans/s{alongside}"
        )
        retrieval = _retrieval(phoenix.base_url, sent_wide.trace_ids[0], len(wide_spans), sizes)
    return {
        "version": PHOENIX_VERSION,
        "install_seconds": install_seconds,
        "ingest": ingest,
        "wide": {
            "spans": len(wide_spans),
            "queryable_seconds": wide_seconds,
            "spans_per_second": len(wide_spans) / wide_seconds,
            "loaded_alongside_another_part": while_loading is not None,
        },
        **retrieval,
    }


def _retrieval(base_url: str, trace_id: str, span_count: int, sizes: PeerSizes) -> dict[str, Any]:
    with httpx.Client(base_url=base_url, timeout=120) as http:
        walks = []
        ids: list[str] = []
        for _ in range(sizes.walk_repetitions):
            tally = ParseTally()
            with _frozen_heap(), _stopwatch() as watch:
                pages, ids = walk(http, "wide", trace_id, WALK_LIMIT, tally)
            if len(ids) != span_count or len(set(ids)) != span_count:
                raise RuntimeError(f"Phoenix's walk returned {len(ids)} spans of {span_count}")
            walks.append({"pages": pages, "seconds": watch.seconds, **tally.summary()})
            _log(
                f"  walk of {span_count:,} spans, limit {WALK_LIMIT}: {pages} pages"
                f" in {watch.seconds:.2f} s"
            )
        depth = int(DEPTH * len(ids))
        cursor = ids[depth]
        deep_ids, _ = phoenix_page(http, "wide", trace_id, cursor, PAGE_SPANS)
        if deep_ids != ids[depth : depth + PAGE_SPANS]:
            raise RuntimeError("Phoenix's deep page did not hold the spans its walk named")
        pages_found = interleaved(
            {
                "first": lambda _: phoenix_page(http, "wide", trace_id, None, PAGE_SPANS),
                "deep": lambda _: phoenix_page(http, "wide", trace_id, cursor, PAGE_SPANS),
            },
            sizes.page_repetitions,
            sizes.page_budget_seconds,
        )
    for name, samples in pages_found.items():
        _log(
            f"  page of {PAGE_SPANS} ({name}): {samples.count} calls,"
            f" p50 {samples.p50 * 1e3:.1f} ms, p99 {samples.p99 * 1e3:.1f} ms"
        )
    return {
        "walks": walks,
        "deep_cursor_index": depth,
        "pages": {name: samples.summary() for name, samples in pages_found.items()},
    }


def _megabytes(walk: dict[str, Any]) -> str:
    # Runs recorded before the tally have no bytes.
    if "bytes" not in walk:
        return "size not recorded"
    return f"{walk['bytes'] / 1e6:.1f} MB, parsed in {walk['parse_seconds']:.2f} s"


def phoenix_table(phoenix: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """Phoenix's figures, one row each."""
    ingest, wide, pages = phoenix["ingest"], phoenix["wide"], phoenix["pages"]
    walks = phoenix["walks"]
    rows = [
        [
            f"ingest, {ingest['executions']:,} executions of {ingest['spans_per_execution']} spans",
            f"{ingest['spans']:,} spans in {ingest['queryable_seconds']:.1f} s",
            f"{ingest['spans_per_second']:,.0f} spans/s",
            f"{ingest['cpu_ms_per_span']:.1f} ms CPU/span",
        ],
        [
            "ingest, one large trace",
            f"{wide['spans']:,} spans in {wide['queryable_seconds']:.1f} s",
            f"{wide['spans_per_second']:,.0f} spans/s",
            "while the rss part ran" if wide.get("loaded_alongside_another_part") else "-",
        ],
        [
            f"whole trace, limit {WALK_LIMIT}, {len(walks)} walks",
            f"{walks[0]['pages']} pages, {_megabytes(walks[0])}",
            " / ".join(f"{w['seconds']:.2f} s" for w in walks),
            f"best {min(w['seconds'] for w in walks):.2f} s",
        ],
    ]
    for name in ("first", "deep"):
        found = pages[name]
        rows.append(
            [
                f"page of {PAGE_SPANS}, {'first' if name == 'first' else '99 % deep'}",
                f"{found['count']} calls",
                f"p50 {found['p50_seconds'] * 1e3:.1f} ms",
                f"p99 {found['p99_seconds'] * 1e3:.1f} ms",
            ]
        )
    header = ["Phoenix", "size", "figure", "beside"]
    return f"Arize Phoenix {phoenix['version']} (SQLite, OTLP/HTTP, REST API)", header, rows
