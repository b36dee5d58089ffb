"""Ingest rate through HTTP next to the raw append rate of the same events, in one run.

    python -m bench.ingest [--quick] [--backends sqlite,postgres] [--rounds N] [--out DIR]

For each backend and batch size (1, 100, 1000) the same pre-serialized events go, each time
into a fresh empty log: straight into `Ledger.append` (validated beforehand: the storage
ceiling), through `domain.ingest.ingest` in-process (parse, validate, append), and as
`POST /monitoring/v1/events` to a `runledger serve` child process in its default
configuration (its projection thread running too) from one keep-alive httpx client, for
batches of 1 and 100 also from 4 concurrent clients, and from one client to a server with the
projector off, and to a bare Starlette endpoint answering a constant (`bench._ceiling`: the
HTTP ceiling). Events/s is acknowledged events over wall time (for the default server also
until the last batch is visible in status); each path runs twice, in alternating order, and
the better round counts. See bench/README.md for the method. `python -m bench` runs the cases
of batch 100 as part of the whole suite.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean
from typing import Any

import orjson

from bench import _report
from bench._events import EventCloner, batch_bodies
from bench._report import Result
from bench._runners import (
    WORKSPACE,
    Timing,
    time_http_ceiling,
    time_http_ingest,
    time_in_process_ingest,
    time_raw_append,
)
from bench._stores import BACKENDS, POSTGRES, SQLITE, Env, Postgres, fresh_store, sqlite_settings
from bench._workflow import run_question_answer
from domain.envelope import Json
from domain.keys import workspace_id_for

BATCH_SIZES = (1, 100, 1000)
MODES = ("raw", "ingest", "http", "http_c4", "http_projector_off", "http_ceiling")
CONCURRENT_CLIENTS = 4
CONCURRENT_BATCH_SIZES = (1, 100)
WARMUP_BATCHES = 2
# Best of two rounds: on a shared machine a measurement is only ever slowed down by others.
FULL_ROUNDS = 2
# Rounds after the first are skipped once this much time has passed, so the run ends by itself.
TIME_BUDGET_SECONDS = 7 * 60

# Events per case, sized so the slowest path of a case (HTTP with the projector running) takes
# a few seconds here and the whole run ends within about eight minutes.
FULL_COUNTS = {
    (SQLITE, 1): 1_500,
    (SQLITE, 100): 30_000,
    (SQLITE, 1000): 30_000,
    (POSTGRES, 1): 600,
    (POSTGRES, 100): 15_000,
    (POSTGRES, 1000): 15_000,
}
# Tiny, for CI: proves every path works end to end in well under a minute.
QUICK_COUNTS = {
    (SQLITE, 1): 20,
    (SQLITE, 100): 200,
    (SQLITE, 1000): 1_000,
    (POSTGRES, 1): 20,
    (POSTGRES, 100): 200,
    (POSTGRES, 1000): 1_000,
}


@dataclass(frozen=True)
class Case:
    """One backend and batch size, with the events every path of it sends."""

    backend: str
    batch_size: int
    event_count: int
    bodies: list[bytes]
    warmup_bodies: list[bytes]


Measure = Callable[[Env], Timing]


def _paths(case: Case, logs: Path, modes: Sequence[str]) -> list[tuple[str, int, Measure]]:
    """(mode, clients, measure) for each path of the case among `modes`, raw first."""
    workspace_id = workspace_id_for(WORKSPACE)
    warmup = case.warmup_bodies[:WARMUP_BATCHES]
    label = f"{case.backend}-{case.batch_size}"

    def http(clients: int, server_env: Env) -> Measure:
        # Every client warms its own connection up.
        warm = case.warmup_bodies[: WARMUP_BATCHES * clients]
        name = "-".join([label, f"c{clients}", *server_env.values()])
        log_path = logs / f"server-{name}.log"
        return lambda env: time_http_ingest(env | server_env, case.bodies, warm, clients, log_path)

    paths: list[tuple[str, int, Measure]] = [
        ("raw", 1, lambda env: time_raw_append(env, workspace_id, case.bodies, warmup)),
        ("ingest", 1, lambda env: time_in_process_ingest(env, workspace_id, case.bodies, warmup)),
        ("http", 1, http(1, {})),
    ]
    if case.batch_size in CONCURRENT_BATCH_SIZES:
        paths.append(("http_c4", CONCURRENT_CLIENTS, http(CONCURRENT_CLIENTS, {})))
    # The server's projection thread shares its process (and GIL) with ingest; without it, the
    # HTTP path alone is measured.
    paths.append(("http_projector_off", 1, http(1, {"RUNLEDGER_PROJECTOR": "off"})))
    ceiling_log = logs / f"server-{label}-ceiling.log"
    paths.append(
        (
            "http_ceiling",
            1,
            lambda env: time_http_ceiling(case.bodies, warmup, 1, case.batch_size, ceiling_log),
        )
    )
    return [path for path in paths if path[0] in modes]


def run_case(
    case: Case,
    postgres: Postgres,
    logs: Path,
    rounds: int,
    deadline: float,
    modes: Sequence[str] = MODES,
) -> list[Result]:
    """Every path of one case, `rounds` times, each time into a fresh empty log."""
    paths = _paths(case, logs, modes)
    timings: dict[str, list[Timing]] = {mode: [] for mode, _, _ in paths}
    for round_index in range(rounds):
        if round_index and time.monotonic() > deadline:
            print("  (time budget used up: no further rounds for this case)", flush=True)
            break
        # Every other round runs the paths backwards, so a drift in the shared machine's load
        # does not always favour the same path.
        ordered = paths if round_index % 2 == 0 else paths[::-1]
        for mode, _, measure in ordered:
            timings[mode].append(_measure(case, mode, measure, postgres, round_index))
    return [
        Result(case.backend, case.batch_size, mode, clients, timings[mode])
        for mode, clients, _ in paths
    ]


def _measure(
    case: Case, mode: str, measure: Measure, postgres: Postgres, round_index: int
) -> Timing:
    with fresh_store(case.backend, f"{mode}{case.batch_size}", postgres) as env:
        timing = measure(env)
    # Every event is new to its fresh log, so anything short of all of them is a fault.
    if timing.acknowledged_count != case.event_count:
        raise RuntimeError(
            f"{mode} {case.backend} batch {case.batch_size}: "
            f"{timing.acknowledged_count} of {case.event_count} events acknowledged"
        )
    visible = timing.visible_events_per_second
    print(
        f"  {case.backend:8} batch {case.batch_size:>4}  {_report.MODE_TITLES[mode]:28}"
        f" round {round_index + 1}: {timing.acknowledged_count:>7} events"
        f" in {timing.seconds:6.2f} s = {timing.events_per_second:9,.0f}/s"
        + (f", visible in status: {visible:9,.0f}/s" if visible is not None else ""),
        flush=True,
    )
    return timing


def event_sizes(template: list[Json]) -> dict[str, Any]:
    sizes = [len(orjson.dumps(event)) for event in template]
    return {
        "per_execution": [
            [event["name"], size] for event, size in zip(template, sizes, strict=True)
        ],
        "mean_bytes": round(mean(sizes)),
        "min_bytes": min(sizes),
        "max_bytes": max(sizes),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI (< 1 minute)")
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated, of: sqlite, postgres (default both)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help=f"times to measure each path; the best counts (default {FULL_ROUNDS}, 1 if --quick)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="results folder")
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = set(args.backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    return args


def postgres_from_env() -> Postgres:
    """Where the PostgreSQL measurements run, from the usual variables."""
    return Postgres(
        host=os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        port=os.environ.get("POSTGRES_PORT", "5432"),
        user=os.environ.get("POSTGRES_USER", "postgres"),
        password=os.environ.get("POSTGRES_PASSWORD", ""),
        dbname=os.environ.get("RUNLEDGER_BENCH_POSTGRES_DBNAME", "runledger_bench"),
    )


def run(
    cloner: EventCloner,
    backends: Sequence[str],
    batch_sizes: Sequence[int],
    counts: dict[tuple[str, int], int],
    rounds: int,
    deadline: float,
    logs: Path,
    modes: Sequence[str] = MODES,
) -> list[Result]:
    """Every case of the backends and batch sizes; the results of every path."""
    postgres = postgres_from_env()
    if POSTGRES in backends:
        postgres.ensure_database()
    logs.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    for backend in backends:
        for batch_size in batch_sizes:
            clients = CONCURRENT_CLIENTS if batch_size in CONCURRENT_BATCH_SIZES else 1
            warmup_count = WARMUP_BATCHES * clients * batch_size
            count = counts[(backend, batch_size)]
            case = Case(
                backend,
                batch_size,
                count,
                batch_bodies(cloner.take(count), batch_size),
                batch_bodies(cloner.take(warmup_count), batch_size),
            )
            results.extend(run_case(case, postgres, logs, rounds, deadline, modes))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run every case, print the tables, write JSON and Markdown."""
    args = parse_args(argv)
    started = time.monotonic()
    meta = ingest_meta(args.backends, args.quick)
    template = run_question_answer("what does an append-only event log guarantee?")
    meta["events"] = event_sizes(template)
    counts = QUICK_COUNTS if args.quick else FULL_COUNTS
    rounds = args.rounds or (1 if args.quick else FULL_ROUNDS)
    meta["rounds"] = rounds
    results = run(
        EventCloner(template),
        args.backends,
        BATCH_SIZES,
        counts,
        rounds,
        started + TIME_BUDGET_SECONDS,
        args.out / "logs",
    )
    meta["load_average_after"] = os.getloadavg()
    meta["elapsed_seconds"] = round(time.monotonic() - started, 1)
    print()
    print(_report.text_table(_report.SUMMARY_HEADER, _report.summary_rows(results)))
    print()
    print(_report.text_table(_report.DETAIL_HEADER, _report.detail_rows(results)))
    stem = "ingest-quick" if args.quick else "ingest"
    json_path, md_path = _report.write(args.out, stem, meta, results)
    print(f"\nwrote {json_path} and {md_path} in {meta['elapsed_seconds']} s")
    return 0


def ingest_meta(backends: Sequence[str], quick: bool) -> dict[str, Any]:
    """What the ingest results are measured on: machine, versions, log settings."""
    postgres = postgres_from_env()
    meta: dict[str, Any] = {
        "benchmark": "ingest",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "backends": list(backends),
        "machine": _report.machine(),
        "versions": _report.versions(),
        "source": _report.source_revision(),
        "warmup_batches": WARMUP_BATCHES,
        "concurrent_clients": CONCURRENT_CLIENTS,
    }
    if SQLITE in backends:
        with fresh_store(SQLITE, "settings", postgres) as env:
            meta["sqlite"] = sqlite_settings(env)
    if POSTGRES in backends:
        postgres.ensure_database()
        meta["postgres"] = postgres.settings()
    return meta


if __name__ == "__main__":
    sys.exit(main())
