"""Every benchmark of issue 5 in one run, each beside its ceiling or peer, and the goals table.

    python -m bench [--quick] [--parts ingest,rate,...,concurrency] [--out DIR]

Parts, in order (each stops by itself; the whole suite takes 11-15 minutes on 2 cores, and
`otlp` about 3 more, `audit` about 4):

- ingest: HTTP batches of 100 (SQLite, PostgreSQL) beside the raw append of the same events,
  in-process ingest, the projector off, and the bare Starlette endpoint (`bench.ingest`); the
  default server's rate is also counted until the last batch is visible in status.
- rate, detail, status: replay beside the raw column insert; detail pages at 99 % depth, whole
  walks in-process and over HTTP; status beside a bare primary-key query (`bench.projections`).
- lag: acknowledgement-to-visibility lag at half the sustained (visible) ingest rate.
- phoenix: Arize Phoenix in its own venv (installed on first use; skipped, with the reason,
  when the registry cannot be reached): ingest until queryable, pages, a whole trace.
- rss: the embedded server's peak memory while one client ingests (`bench._rss`). With
  phoenix it runs while Phoenix stores its large trace (one core for minutes, the suite's
  longest wait): memory does not depend on the CPU left to the server, and every timed figure
  of Phoenix's is taken before or after.
- runtime: a no-op ten-node function through `/v1/execute-workflow` beside the direct call
  (`bench.runtime`).
- concurrency: one client, then 50 at once for a fixed time, each posting its own executions
  and reading their status and detail back: latency per route beside one client's, errors by
  status, peak RSS, and acknowledged events missing from the log afterwards
  (`bench._concurrency`).
- lists: issue 21's lists at 1,000,000 executions loaded straight into ClickHouse: five
  filters' first and deep pages and the count by status over HTTP, each beside one bare
  ClickHouse statement returning the same rows; the metadata-filtered first page beside
  Phoenix's at 5,000 (`bench.lists`).
- views: issue 23's reads of an execution whose nodes output 1 MiB each beside the same
  execution with small outputs: Vellum's detail page, Velt's and Datalab's reads
  (`bench.views`).
- otlp: issue 22's OTLP/HTTP ingest from the SDK's exporter (batches of 512), spans/s
  acknowledged and visible in status, beside the raw append of the same log records and
  beside Phoenix receiving the same spans (`bench.otlp`).
- audit: issue 24's whole history of a 20,001-span execution as NDJSON beside `Ledger.read` of
  the same rows, and `runledger export` / `import` beside `Ledger.scan` / `insert_records` of
  the same records (`bench.audit`).

Writes `bench/results/suite.{json,md}` (`suite-quick.*` with `--quick`). A part that fails is
reported and the others still run; the exit code is then 1. A goal not met never fails the
run: the ratios are what the run is for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import _concurrency, _report, audit, ingest, lists, otlp, projections, runtime, views
from bench import _projection_report as projection_report
from bench._concurrency import concurrency_tables, measure_concurrency
from bench._events import EventCloner
from bench._goals import HEADER as GOALS_HEADER
from bench._goals import goals
from bench._peer import PeerSizes, measure_phoenix, phoenix_table
from bench._phoenix import installed_version, spans_of
from bench._rss import measure_rss, rss_table
from bench._stores import POSTGRES, SQLITE, Env
from bench._workflow import run_question_answer
from domain.log.ledger import SQLITE_MODULE

PARTS = (
    "ingest",
    "rate",
    "detail",
    "status",
    "lag",
    "phoenix",
    "rss",
    "runtime",
    "concurrency",
    "lists",
    "views",
    "otlp",
    "audit",
)
BATCH = 100
GOALS_TITLE = (
    "Goals (issue 5, concurrency, issue 21's lists, issue 23's reads, issue 22's OTLP,"
    " issue 24's history)"
)
Table = tuple[str, list[str], list[list[str]]]


@dataclass(frozen=True)
class Suite:
    """The sizes of one run."""

    ingest_counts: dict[tuple[str, int], int]
    ingest_rounds: int
    ingest_budget_seconds: float
    projections: projections.Sizes
    rate_rounds: int
    rss_events: int
    rss_budget_seconds: float
    peer: PeerSizes
    runtime_runs: int
    concurrency: _concurrency.Sizes
    lists: lists.Sizes
    views: views.Sizes
    otlp: otlp.Sizes
    audit: audit.Sizes


FULL = Suite(
    ingest_counts={(SQLITE, BATCH): 30_000, (POSTGRES, BATCH): 15_000},
    ingest_rounds=2,
    ingest_budget_seconds=150,
    # The standalone benchmark's sizes, with half the replay, shorter latency budgets and one
    # in-process walk, so that Phoenix's slow ingest fits the 15 minutes as well.
    projections=replace(
        projections.FULL,
        rate_events=100_000,
        page_budget_seconds=30,
        status_budget_seconds=30,
        walk_limits=(1000,),
        http_walk_repetitions=3,
    ),
    rate_rounds=2,
    rss_events=2_000_000,
    rss_budget_seconds=150,
    runtime_runs=400,
    concurrency=_concurrency.FULL,
    lists=lists.FULL,
    views=views.FULL,
    otlp=otlp.FULL,
    audit=audit.FULL,
    peer=PeerSizes(
        executions=500,
        wide_spans=projections.FULL.walk_spans,
        walk_repetitions=3,
        page_repetitions=300,
        page_budget_seconds=15,
        timeout_seconds=300,
        wide_timeout_seconds=600,
    ),
)
QUICK = Suite(
    ingest_counts={(SQLITE, BATCH): 1_000, (POSTGRES, BATCH): 1_000},
    ingest_rounds=1,
    ingest_budget_seconds=60,
    projections=replace(projections.QUICK, walk_limits=(1000,), http_walk_repetitions=1),
    rate_rounds=1,
    rss_events=5_000,
    rss_budget_seconds=20,
    runtime_runs=20,
    concurrency=_concurrency.QUICK,
    lists=lists.QUICK,
    views=views.QUICK,
    otlp=otlp.QUICK,
    audit=audit.QUICK,
    peer=PeerSizes(
        executions=20,
        wide_spans=projections.QUICK.walk_spans,
        walk_repetitions=1,
        page_repetitions=10,
        page_budget_seconds=3,
        timeout_seconds=120,
        wide_timeout_seconds=120,
    ),
)


class Progress:
    """One line as each part starts and ends, with the run's elapsed time."""

    def __init__(self, parts: Sequence[str]) -> None:
        self.parts = list(parts)
        self.started = time.monotonic()
        self.failures: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    def _clock(self) -> str:
        elapsed = int(time.monotonic() - self.started)
        return f"{elapsed // 60:02d}:{elapsed % 60:02d}"

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Run one part; a failure is recorded and reported, and the next part runs."""
        index = self.parts.index(name) + 1
        print(f"\n[{index}/{len(self.parts)}] {name}  (at {self._clock()})", flush=True)
        started = time.monotonic()
        try:
            yield
        except Exception as error:
            self.failures[name] = f"{type(error).__name__}: {error}"
            traceback.print_exc()
            print(f"[{index}/{len(self.parts)}] {name} FAILED: {error}", flush=True)
        finally:
            self.seconds[name] = round(time.monotonic() - started, 1)
        if name not in self.failures:
            print(
                f"[{index}/{len(self.parts)}] {name} done in {self.seconds[name]:.0f} s"
                f"  (at {self._clock()})",
                flush=True,
            )


def _ingest_summary(results: list[_report.Result]) -> dict[str, Any]:
    """Per backend and path: the best round's rates, and every round."""
    summary: dict[str, Any] = {}
    for result in results:
        summary.setdefault(result.backend, {})[result.mode] = {
            "events_per_second": result.timing.events_per_second,
            "visible_events_per_second": result.visible_events_per_second,
            "rounds_events_per_second": [t.events_per_second for t in result.rounds],
            "server_cpu_us_per_event": (
                result.timing.server_cpu_seconds / result.timing.acknowledged_count * 1e6
                if result.timing.server_cpu_seconds is not None
                else None
            ),
        }
    return summary


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="results folder")
    args = parser.parse_args(argv)
    args.parts = [name.strip() for name in args.parts.split(",") if name.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    return args


def _meta(args: argparse.Namespace, suite: Suite) -> dict[str, Any]:
    meta = ingest.ingest_meta([SQLITE, POSTGRES] if "ingest" in args.parts else [], args.quick)
    meta |= {
        "benchmark": "suite",
        "parts": args.parts,
        "sizes": {
            "ingest_counts": {f"{b}-{n}": c for (b, n), c in suite.ingest_counts.items()},
            "ingest_rounds": suite.ingest_rounds,
            "projections": suite.projections.__dict__,
            "rate_rounds": suite.rate_rounds,
            "rss_events": suite.rss_events,
            "rss_budget_seconds": suite.rss_budget_seconds,
            "peer": suite.peer.__dict__,
            "concurrency": suite.concurrency.__dict__,
            "lists": suite.lists.__dict__,
            "views": suite.views.__dict__,
            "otlp": suite.otlp.__dict__,
            "audit": suite.audit.__dict__,
        },
    }
    meta["versions"]["arize-phoenix"] = installed_version() or "absent"
    return meta


def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any], Progress]:
    """Every part asked for; (meta, results, progress)."""
    suite = QUICK if args.quick else FULL
    progress = Progress(args.parts)
    meta = _meta(args, suite)
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    template = run_question_answer("how far ahead of its peers is the ledger?")
    meta["events"] = ingest.event_sizes(template)
    meta["spans_per_execution"] = len(spans_of(template))
    cloner = EventCloner(template)
    results: dict[str, Any] = {}
    ran: set[str] = set()
    workdir = Path(tempfile.mkdtemp(prefix="runledger-bench-suite-"))
    # The one chDB engine path of this process (rate, detail, status), a database per part.
    url = f"chdb://{workdir / 'chdb'}"
    http_env: Env = {
        "RUNLEDGER_DATA_DIR": str(workdir / "http"),
        "PERSISTENCE_MODULE": SQLITE_MODULE,
        "SQLITE_DBNAME": str(workdir / "http" / "log.sqlite"),
        "RUNLEDGER_CLICKHOUSE_URL": url,
        "RUNLEDGER_CLICKHOUSE_DATABASE": projections.BASE_DATABASE,
    }
    parts: dict[str, Callable[[], None]] = {
        "ingest": lambda: results.__setitem__(
            "ingest",
            _ingest_summary(
                ingest.run(
                    cloner,
                    [SQLITE, POSTGRES],
                    [BATCH],
                    suite.ingest_counts,
                    suite.ingest_rounds,
                    time.monotonic() + suite.ingest_budget_seconds,
                    logs,
                    modes=("raw", "ingest", "http", "http_projector_off", "http_ceiling"),
                )
            ),
        ),
        "rate": lambda: results.__setitem__(
            "rate",
            projections.measure_rate(url, workdir, cloner, suite.projections, suite.rate_rounds),
        ),
        "detail": lambda: results.__setitem__(
            "detail", projections.measure_detail(url, http_env, suite.projections)
        ),
        "status": lambda: results.__setitem__(
            "status", projections.measure_status(url, http_env, suite.projections)
        ),
        "lag": lambda: results.__setitem__(
            "lag",
            projections.measure_lag(
                cloner,
                suite.projections,
                logs,
                None,
                probe_rate=_sustained_rate(results),
                with_fixed=False,
            ),
        ),
        "rss": lambda: results.__setitem__(
            "rss", measure_rss(cloner, suite.rss_events, suite.rss_budget_seconds, logs)
        ),
        "phoenix": lambda: results.__setitem__(
            "phoenix",
            measure_phoenix(
                template,
                suite.peer,
                logs,
                rss_while_loading if "rss" in args.parts and "rss" not in ran else None,
            ),
        ),
        "runtime": lambda: results.__setitem__("runtime", runtime.measure(suite.runtime_runs)),
        "concurrency": lambda: results.__setitem__(
            "concurrency", measure_concurrency(cloner, suite.concurrency, logs)
        ),
        "lists": lambda: results.__setitem__(
            "lists", lists.measure(http_env, url, suite.lists, logs)
        ),
        "views": lambda: results.__setitem__("views", views.measure(suite.views)),
        "otlp": lambda: results.__setitem__("otlp", otlp.measure(template, suite.otlp, logs)),
        "audit": lambda: results.__setitem__("audit", audit.measure(suite.audit, logs)),
    }

    def run_part(name: str) -> None:
        if name not in ran:
            ran.add(name)
            with progress.part(name):
                parts[name]()

    def rss_while_loading() -> None:
        run_part("rss")

    try:
        for name in args.parts:
            run_part(name)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return meta, results, progress


def _sustained_rate(results: dict[str, Any]) -> float | None:
    """The SQLite server's rate acknowledged and visible, from the ingest part, if it ran."""
    http = results.get("ingest", {}).get(SQLITE, {}).get("http", {})
    rate = http.get("visible_events_per_second")
    return float(rate) if rate else None


_INGEST_MODES = {
    "raw": "raw append",
    "ingest": "in-process ingest",
    "http": "HTTP, 1 client",
    "http_projector_off": "HTTP, projector off",
    "http_ceiling": "HTTP ceiling (bare endpoint)",
}


def _ingest_table(summary: dict[str, Any]) -> Table:
    rows = []
    for backend, modes in summary.items():
        raw = modes["raw"]["events_per_second"]
        for mode, title in _INGEST_MODES.items():
            found = modes.get(mode)
            if found is None:
                continue
            rate = found["events_per_second"]
            visible = found["visible_events_per_second"]
            cpu = found["server_cpu_us_per_event"]
            rows.append(
                [
                    backend,
                    title,
                    f"{rate:,.0f}",
                    " / ".join(f"{r:,.0f}" for r in found["rounds_events_per_second"]),
                    f"{rate / raw:.2f}",
                    f"{visible:,.0f}" if visible else "-",
                    f"{visible / raw:.2f}" if visible else "-",
                    f"{cpu:,.0f}" if cpu is not None else "-",
                ]
            )
    header = [
        "log",
        "path",
        "ev/s",
        "each round",
        "of raw",
        "visible in status ev/s",
        "visible of raw",
        "server CPU µs/ev",
    ]
    return f"Ingest, batches of {BATCH} (best round)", header, rows


def _tables(results: dict[str, Any]) -> list[Table]:
    found: list[Table] = []
    if "ingest" in results:
        found.append(_ingest_table(results["ingest"]))
    if "rss" in results:
        found.append(rss_table(results["rss"]))
    if "phoenix" in results and "skipped" not in results["phoenix"]:
        found.append(phoenix_table(results["phoenix"]))
    if "lists" in results:
        found.append(lists.lists_table(results["lists"]))
    if "views" in results:
        found.append(views.views_table(results["views"]))
    if "otlp" in results:
        found.append(otlp.otlp_table(results["otlp"]))
    if "audit" in results:
        found.extend(audit.audit_tables(results["audit"]))
    if "runtime" in results:
        header, rows = runtime.table(results["runtime"])
        found.append(("Runtime overhead: a no-op ten-node function", header, rows))
    if "concurrency" in results:
        found.extend(concurrency_tables(results["concurrency"]))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite, print the goals table, write JSON and Markdown."""
    args = _parse_args(argv)
    meta, results, progress = run(args)
    spans_per_event = meta["spans_per_execution"] / len(meta["events"]["per_execution"])
    found = goals(results, spans_per_event)
    meta["load_average_after"] = os.getloadavg()
    meta["elapsed_seconds"] = round(time.monotonic() - progress.started, 1)
    meta["part_seconds"] = progress.seconds
    meta["failures"] = progress.failures
    meta["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    tables = [*projection_report.tables(results), *_tables(results)]
    for title, header, rows in tables:
        print(f"\n{title}\n")
        print(_report.text_table(header, rows))
    goal_rows = [goal.cells() for goal in found]
    print(f"\n{GOALS_TITLE}, this run\n")
    print(_report.text_table(GOALS_HEADER, goal_rows))
    stem = "suite-quick" if args.quick else "suite"
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{stem}.json"
    document = {**meta, "goals": [goal.as_json() for goal in found], "results": results}
    json_path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    md_path = args.out / f"{stem}.md"
    sections = [
        (GOALS_TITLE, GOALS_HEADER, goal_rows),
        *tables,
    ]
    md_path.write_text(
        "\n\n".join(
            f"**{title}**\n\n{_report.markdown_table(header, rows)}"
            for title, header, rows in sections
        )
        + "\n"
    )
    print(f"\nwrote {json_path} and {md_path} in {meta['elapsed_seconds']:.0f} s")
    if progress.failures:
        print(f"FAILED parts: {', '.join(progress.failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
