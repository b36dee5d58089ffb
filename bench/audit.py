"""Issue 24: an execution's whole history as NDJSON beside the log's own read of the same rows
(goal: at most 2 times), and export and import beside the log's own read and append.

    python -m bench.audit [--quick] [--out DIR]

For each log (SQLite, PostgreSQL), in a fresh one:

1. history (`bench._history`): one execution of a root workflow span and `nodes` node spans
   (2 events each: 20,001 spans, 40,003 events), posted to a `runledger serve` child in its
   default configuration (projection thread, embedded chDB) and made visible; then,
   interleaved, the whole NDJSON stream of `GET /v1/workflow-executions/{id}/events` read by
   one client, `Ledger.read` of the same rows in this process, and (SQLite) a bare SELECT.
2. export (`bench._transfer`), the server stopped: `runledger export` of that log to a plain
   file and to a `.zst` one, beside `Ledger.scan` of the same records; rounds in alternating
   order.

Then import, into fresh logs of each backend: `runledger import` of the SQLite log's export
(plain and `.zst`) beside `Ledger.insert_records` of the same records. Once, on SQLite, export
and import as child processes (the interpreter's start-up included), as an operator runs them.

A goal not met never fails the run; `--quick` (CI: a 201-span execution) fails only when a path
is broken.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
from eventsourcing.persistence import StoredEvent

from bench import _history, _report, _transfer
from bench._goals import HEADER as GOALS_HEADER
from bench._goals import audit_goals
from bench._latency import interleaved
from bench._runners import process_cpu_seconds
from bench._server import running_server
from bench._stores import BACKENDS, POSTGRES, SQLITE, Env, fresh_store
from bench._synthetic import WideExecution
from bench.ingest import postgres_from_env
from domain.keys import workspace_id_for

WORKSPACE = "bench-audit"
Table = tuple[str, list[str], list[list[str]]]


@dataclass(frozen=True)
class Sizes:
    """The execution's node spans; how long to time the history; how often to transfer."""

    nodes: int
    stream_repetitions: int
    stream_budget_seconds: float
    transfer_rounds: int
    backends: tuple[str, ...]
    timeout_seconds: float


# A stream of 40,003 events takes 1.5-2.3 s here, under load: 20-30 rounds of every read in 60 s
# (at least 20 are kept). Three transfer rounds, since PostgreSQL's rates move by up to 2 x.
FULL = Sizes(20_000, 30, 60, 3, BACKENDS, 300)
QUICK = Sizes(200, 10, 3, 1, BACKENDS, 60)


def _log(message: str) -> None:
    print(message, flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:,.1f} ms"


def _measure_history(env: Env, made: WideExecution, sizes: Sizes, log_path: Path) -> dict[str, Any]:
    """Load the execution into a server on `env`'s log, then time every read, interleaved."""
    events = len(made.events)
    with (
        running_server(env, WORKSPACE, log_path) as server,
        httpx.Client(
            base_url=server.base_url, headers={"X-API-KEY": server.api_key}, timeout=120
        ) as client,
    ):
        started = time.perf_counter()
        token = _history.post(client, made)
        acknowledged = time.perf_counter() - started
        _history.wait_visible(client, made.execution_id, token, sizes.timeout_seconds)
        visible = time.perf_counter() - started
        stream_bytes = _history.check_stream(client, made)
        ledger = _transfer.open_ledger(env)
        try:
            calls: dict[str, Callable[[int], None]] = {
                "stream": _history.stream_reader(client, made.execution_id, events),
                "log": _history.log_reader(ledger, events),
            }
            if env["PERSISTENCE_MODULE"].endswith("sqlite"):
                calls["sql"] = _history.sql_reader(
                    env["SQLITE_DBNAME"], _transfer.count_records(env)
                )
            cpu_started = process_cpu_seconds(server.pid)
            samples = interleaved(
                calls, sizes.stream_repetitions, sizes.stream_budget_seconds, warmup=2
            )
            # The server does nothing else meanwhile (its projector is idle): its CPU is the
            # streams', warm-up ones included.
            server_cpu = process_cpu_seconds(server.pid) - cpu_started
        finally:
            ledger.close()
    streams = samples["stream"].count + 2
    found: dict[str, Any] = {
        "events": events,
        "spans": made.span_count + 1,
        "stream_bytes": stream_bytes,
        "load": {"acknowledged_seconds": acknowledged, "visible_seconds": visible},
        "reads": {name: found.summary() for name, found in samples.items()},
        "server_cpu_seconds_per_stream": server_cpu / streams,
    }
    reads = found["reads"]
    _log(
        "  history: stream p50 "
        + _ms(reads["stream"]["p50_seconds"])
        + f" ({stream_bytes / 1e6:.1f} MB, {found['server_cpu_seconds_per_stream']:.2f} s server"
        + " CPU), Ledger.read p50 "
        + _ms(reads["log"]["p50_seconds"])
        + (f", bare SELECT p50 {_ms(reads['sql']['p50_seconds'])}" if "sql" in reads else "")
        + f"; {samples['stream'].count} rounds"
    )
    return found


def _alternating(paths: list[Callable[[], None]], index: int) -> None:
    for path in paths if index % 2 == 0 else paths[::-1]:
        path()


def _export_round(env: Env, files: dict[str, Path], records: int, index: int) -> dict[str, float]:
    """Records/s of the export to each file and of the raw scan, in this round's order."""
    found: dict[str, float] = {}

    def export(name: str) -> None:
        found[name] = records / _transfer.run_command(env, ["export", "-o", str(files[name])])

    def scan() -> None:
        seconds, scanned = _transfer.time_scan(env)
        if scanned != records:
            raise RuntimeError(f"the scan read {scanned} records of {records}")
        found["scan"] = records / seconds

    _alternating([partial(export, "plain"), partial(export, "zst"), scan], index)
    return found


def _export(env: Env, files: dict[str, Path], sizes: Sizes) -> dict[str, Any]:
    """Export to `files` (plain, zst) beside the raw scan of the whole log, rounds in
    alternating order."""
    records = _transfer.count_records(env)
    rounds = [_export_round(env, files, records, n) for n in range(sizes.transfer_rounds)]
    exported = len(_transfer.records_of(files["plain"]))
    _log(
        f"  export of {records:,} records: "
        + ", ".join(f"{name} {max(r[name] for r in rounds):,.0f}" for name in rounds[0])
        + " records/s (best round)"
    )
    return {
        "records": records,
        "exported": exported,
        "file_bytes": files["plain"].stat().st_size,
        "zst_bytes": files["zst"].stat().st_size,
        "rounds": rounds,
    }


def _import_round(
    backend: str, files: dict[str, Path], records: list[StoredEvent], index: int
) -> dict[str, float]:
    """Records/s of the import of each file and of the raw insert, each into a fresh log."""
    found: dict[str, float] = {}

    def command(name: str) -> None:
        with fresh_store(backend, f"auditimp{index}{name}", postgres_from_env()) as env:
            seconds = _transfer.run_command(env, ["import", str(files[name])])
            _check_count(env, len(records), f"import of {name}")
        found[name] = len(records) / seconds

    def insert() -> None:
        with fresh_store(backend, f"auditimp{index}raw", postgres_from_env()) as env:
            seconds = _transfer.time_insert(env, records)
            _check_count(env, len(records), "raw insert")
        found["insert"] = len(records) / seconds

    _alternating([partial(command, "plain"), partial(command, "zst"), insert], index)
    return found


def _import(backend: str, files: dict[str, Path], sizes: Sizes) -> dict[str, Any]:
    """Import (plain, .zst) into fresh logs beside the raw insert of the same records."""
    records = _transfer.records_of(files["plain"])
    rounds = [_import_round(backend, files, records, n) for n in range(sizes.transfer_rounds)]
    _log(
        f"  import of {len(records):,} records into {backend}: "
        + ", ".join(f"{name} {max(r[name] for r in rounds):,.0f}" for name in rounds[0])
        + " records/s (best round)"
    )
    return {"records": len(records), "rounds": rounds}


def _check_count(env: Env, expected: int, what: str) -> None:
    held = _transfer.count_records(env)
    if held != expected:
        raise RuntimeError(f"{what}: the log holds {held} records of {expected}")


def _children(source: Env, folder: Path, logs: Path) -> dict[str, Any]:
    """Once: `runledger export` and `import` as child processes (SQLite), start-up included."""
    path = folder / "child.ndjson"
    records = _transfer.count_records(source)
    exported = _transfer.run_child(source, ["export", "-o", str(path)], logs / "audit-export.log")
    with fresh_store(SQLITE, "auditchild", postgres_from_env()) as env:
        imported = _transfer.run_child(env, ["import", str(path)], logs / "audit-import.log")
        count = len(_transfer.records_of(path))
        _check_count(env, count, "the child's import")
    _log(f"  as child processes: export {exported:.2f} s, import {imported:.2f} s")
    return {
        "export": {"seconds": exported, "records": records},
        "import": {"seconds": imported, "records": count},
    }


def measure(sizes: Sizes, logs: Path) -> dict[str, Any]:
    """Every backend's history and export; import into each; the child processes once."""
    logs.mkdir(parents=True, exist_ok=True)
    if POSTGRES in sizes.backends:
        postgres_from_env().ensure_database()
    made = _history.build(workspace_id_for(WORKSPACE), sizes.nodes)
    _log(f"audit: an execution of {made.span_count + 1:,} spans, {len(made.events):,} events")
    results: dict[str, Any] = {"sizes": asdict(sizes), "history": {}, "export": {}, "import": {}}
    folder = Path(tempfile.mkdtemp(prefix="runledger-bench-audit-"))
    try:
        exports: dict[str, dict[str, Path]] = {}
        for backend in sizes.backends:
            _log(f"  {backend}")
            files = {"plain": folder / f"{backend}.ndjson", "zst": folder / f"{backend}.ndjson.zst"}
            exports[backend] = files
            with fresh_store(backend, "audit", postgres_from_env()) as store:
                env = store | {"RUNLEDGER_LOG_LEVEL": "WARNING"}
                log_path = logs / f"server-audit-{backend}.log"
                results["history"][backend] = _measure_history(env, made, sizes, log_path)
                results["export"][backend] = _export(env, files, sizes)
                if backend == SQLITE:
                    results["children"] = _children(env, folder, logs)
        # Every log's export holds the same records: each import reads the first log's.
        source = exports[sizes.backends[0]]
        for backend in sizes.backends:
            results["import"][backend] = _import(backend, source, sizes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def _best(rounds: list[dict[str, float]], name: str) -> float:
    return max(found[name] for found in rounds)


def audit_tables(results: dict[str, Any]) -> list[Table]:
    """The history reads per log; export and import beside the raw scan and insert."""
    titles = {
        "stream": "GET …/events, Accept: application/x-ndjson, read whole",
        "log": "Ledger.read of the same rows (pages of 1,000)",
        "sql": "SELECT rowid, state FROM stored_events ORDER BY rowid (sqlite3)",
    }
    rows = []
    spans = events = 0
    for backend, found in results["history"].items():
        spans, events = found["spans"], found["events"]
        reads = found["reads"]
        log = reads["log"]
        for name, title in titles.items():
            if name not in reads:
                continue
            read = reads[name]
            rows.append(
                [
                    backend,
                    title,
                    _ms(read["p50_seconds"]),
                    _ms(read["p99_seconds"]),
                    f"{read['p50_seconds'] / log['p50_seconds']:.2f}",
                    f"{read['p99_seconds'] / log['p99_seconds']:.2f}",
                    str(read["count"]),
                ]
            )
    history = (
        f"An execution's whole history: {spans:,} spans, {events:,} events",
        ["log", "read", "p50", "p99", "p50 of Ledger.read", "p99 of Ledger.read", "calls"],
        rows,
    )
    transfer_titles = {
        ("export", "plain"): "runledger export -o FILE.ndjson",
        ("export", "zst"): "runledger export -o FILE.ndjson.zst",
        ("export", "scan"): "Ledger.scan of the same records (batches of 1,000)",
        ("import", "plain"): "runledger import FILE.ndjson, empty log",
        ("import", "zst"): "runledger import FILE.ndjson.zst, empty log",
        ("import", "insert"): "Ledger.insert_records of the same records (batches of 1,000)",
    }
    rows = []
    for (kind, name), title in transfer_titles.items():
        raw_name = "scan" if kind == "export" else "insert"
        for backend, found in results[kind].items():
            rate = _best(found["rounds"], name)
            raw = _best(found["rounds"], raw_name)
            rows.append(
                [
                    backend,
                    title,
                    f"{rate:,.0f}",
                    " / ".join(f"{r[name]:,.0f}" for r in found["rounds"]),
                    f"{rate / raw:.2f}",
                ]
            )
    children = results.get("children")
    if children:
        for kind in ("export", "import"):
            child = children[kind]
            rows.append(
                [
                    SQLITE,
                    f"runledger {kind} as a child process, start-up included",
                    f"{child['records'] / child['seconds']:,.0f}",
                    f"{child['seconds']:.2f} s",
                    "-",
                ]
            )
    transfer = (
        "Export and import, records/s (best round), beside the log's own read and append",
        ["log", "path", "records/s", "each round", "of raw"],
        rows,
    )
    return [history, transfer]


def main(argv: list[str] | None = None) -> int:
    """Run, print, and write bench/results/audit.{json,md} (`audit-quick.*` with --quick)."""
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: the paths work")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="results folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    meta = {
        "benchmark": "audit",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": _report.machine(),
        "versions": _report.versions(),
        "source": _report.source_revision(),
    }
    results = measure(QUICK if args.quick else FULL, args.out / "logs")
    tables = audit_tables(results)
    found = audit_goals({"audit": results})
    goal_rows = [goal.cells() for goal in found]
    for title, header, rows in tables:
        print(f"\n{title}\n\n{_report.text_table(header, rows)}")
    print(f"\n{_report.text_table(GOALS_HEADER, goal_rows)}")
    meta["load_average_after"] = _report.machine()["load_average"]
    meta["elapsed_seconds"] = round(time.monotonic() - started, 1)
    stem = "audit-quick" if args.quick else "audit"
    args.out.mkdir(parents=True, exist_ok=True)
    document = {**meta, "goals": [g.as_json() for g in found], "results": results}
    (args.out / f"{stem}.json").write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    (args.out / f"{stem}.md").write_text(
        "\n\n".join(
            f"**{title}**\n\n{_report.markdown_table(header, rows)}"
            for title, header, rows in [*tables, ("Goals (issue 24)", GOALS_HEADER, goal_rows)]
        )
        + "\n"
    )
    print(f"\nwrote {args.out / stem}.json and .md in {meta['elapsed_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
