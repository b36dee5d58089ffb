"""Profiles of the hot paths behind the goals not met, and their largest costs (py-spy).

    .venv/bin/pip install py-spy   # a manual step: py-spy is not a dependency of the project
    .venv/bin/python -m bench._profile ingest --backend sqlite   # the server while ingesting
    .venv/bin/python -m bench._profile ingest --backend postgres
    .venv/bin/python -m bench._profile replay                    # the runner, replay from zero
    .venv/bin/python -m bench._profile detail                    # detail pages and whole walks
    .venv/bin/python -m bench._profile concurrency               # the server under 50 clients
    .venv/bin/python -m bench._profile otlp --backend sqlite     # the server taking OTLP exports
    .venv/bin/python -m bench._profile otlp --gil                # the same, GIL holders only
    .venv/bin/python -m bench._profile history [--gil]           # whole NDJSON histories
    .venv/bin/python -m bench._profile summary FILE              # any raw py-spy profile

Each records `py-spy record --threads --idle --format raw -r 100` (collapsed stacks) of the
process doing the work into `bench/results/profile-<name>.txt`, then prints, per thread, the
functions with the most samples on the stack (inclusive) and at its top (self), with the
file they live in. Idle samples (a thread waiting on a lock, a socket or a sleep) are counted
apart, so the shares are of the time the thread was busy.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import _concurrency, _history, ingest, otlp
from bench._events import EventCloner, batch_bodies
from bench._phoenix import sender_python, spans_of
from bench._runners import WORKSPACE, _drive_clients
from bench._server import running_server
from bench._stores import POSTGRES, SQLITE, Postgres, fresh_store
from bench._synthetic import wide_execution
from bench._workflow import run_question_answer
from bench.projections import _fill_log, _time_runner
from domain.keys import workspace_id_for
from domain.log.ledger import SQLITE_MODULE, Ledger
from projections.clickhouse import connect
from projections.detail import ExecutionDetails
from projections.migrations import apply_migrations
from projections.store import ClickHouseStore

_ROOT = Path(__file__).resolve().parents[1]
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Leaf functions that mean the thread was waiting, not working.
_IDLE = (
    "wait (threading.py",
    "select (selectors.py",
    "poll (selectors.py",
    "_worker (concurrent/futures/thread.py",
    "sleep",
    "accept",
    "get (queue.py",
    "run_forever",
    # uvloop runs the event loop in C: a sample whose top is asyncio's runner is the loop
    # waiting in epoll (its Python callbacks show as deeper frames).
    "Runner.run (asyncio/runners.py",
    "recording (bench/_profile.py",  # waiting for py-spy to attach
)


def _name(frame: str) -> str:
    found = _FRAME.match(frame)
    if not found:
        return frame
    path = found["file"]
    for marker in ("site-packages/", "/lib/python3.11/", f"{_ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{found['function']} ({path})"


def summarise(path: Path, process_filter: str | None, top: int) -> str:
    """The profile's largest costs per process and thread, as text."""
    busy: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    leaf: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    totals: Counter[tuple[str, str]] = Counter()
    idle: Counter[tuple[str, str]] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        process = frames.pop(0) if frames[0].startswith("process ") else "process"
        thread = frames.pop(0) if frames and frames[0].startswith("thread ") else "thread"
        if process_filter and process_filter not in process:
            continue
        key = (process, thread)
        # A thread sampled outside any Python frame (a native thread of chDB's) is idle to us.
        if not frames or any(marker in frames[-1] for marker in _IDLE):
            idle[key] += count
            continue
        totals[key] += count
        for name in {_name(frame) for frame in frames}:
            busy[key][name] += count
        leaf[key][_name(frames[-1])] += count
    lines = []
    for key, total in totals.most_common():
        process, thread = key
        lines.append(f"\n{process[:120]} / {thread}: {total} busy samples, {idle[key]} idle")
        lines.append("  inclusive:")
        lines += [f"    {n / total:6.1%}  {name}" for name, n in busy[key].most_common(top)]
        lines.append("  self:")
        lines += [f"    {n / total:6.1%}  {name}" for name, n in leaf[key].most_common(top)]
    return "\n".join(lines)


@contextmanager
def recording(pid: int, out: Path, gil: bool = False) -> Iterator[None]:
    """py-spy sampling `pid` (all its threads, idle ones too) while the block runs; with `gil`
    only the samples of the thread holding the GIL (who keeps the others waiting)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    command = [py_spy, "record", "--pid", str(pid), "--threads", "--idle", "--format", "raw"]
    if gil:
        command.append("--gil")
    process = subprocess.Popen(
        [*command, "-r", "100", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)  # py-spy attaches
        yield
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)


def _ingest(out: Path, backend: str, events: int) -> None:
    cloner = EventCloner(run_question_answer("where does an ingest request spend its time?"))
    bodies = batch_bodies(cloner.take(events), 100)
    warmup = batch_bodies(cloner.take(200), 100)
    postgres = ingest.postgres_from_env()
    if backend == POSTGRES:
        postgres.ensure_database()
    log = out.with_suffix(".server.log")
    with (
        fresh_store(backend, "profile", postgres) as env,
        running_server(env, WORKSPACE, log) as server,
        recording(server.pid, out),
    ):
        timing = _drive_clients(
            server.base_url, server.api_key, bodies, warmup, 1, server.pid, wait_visible=True
        )
    print(f"{timing.acknowledged_count:,} events, {timing.events_per_second:,.0f}/s acknowledged")


def _replay(out: Path, events: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="runledger-profile-"))
    try:
        cloner = EventCloner(run_question_answer("where does a replay spend its time?"))
        ledger = Ledger(
            {"PERSISTENCE_MODULE": SQLITE_MODULE, "SQLITE_DBNAME": str(workdir / "log.db")}
        )
        _fill_log(ledger, workspace_id_for(WORKSPACE), cloner, events)
        client = connect(f"chdb://{workdir / 'chdb'}", "replay")
        with recording(os.getpid(), out):
            timing = _time_runner(ledger, client)
        print(f"{timing.acknowledged_count:,} events replayed at {timing.events_per_second:,.0f}/s")
        client.close()
        ledger.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _detail(out: Path, spans: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="runledger-profile-"))
    workspace_id = workspace_id_for(WORKSPACE)
    try:
        url = f"chdb://{workdir / 'chdb'}"
        writer, reader = connect(url, "detail"), connect(url, "detail")
        header_reader = connect(url, "detail")
        apply_migrations(writer)
        made = wide_execution(workspace_id, spans, 0, datetime.now(UTC))
        for start in range(0, len(made.events), 5000):
            ClickHouseStore(writer).apply(made.events[start : start + 5000])
        details = ExecutionDetails(reader, header_reader)
        with recording(os.getpid(), out):
            started = time.perf_counter()
            pages = 0
            for limit in (1000, 1000, 100):
                previous = None
                while True:
                    page = details.page(workspace_id, made.execution_id, previous, limit)
                    pages += 1
                    if not page.has_more:
                        break
                    previous = page.spans[-1].span_id
        print(f"{pages} pages in {time.perf_counter() - started:.1f} s")
        details.close()
        header_reader.close()
        reader.close()
        writer.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _concurrency_load(out: Path, clients: int, seconds: float) -> None:
    """The concurrency part's clients (`bench._concurrency`) against a server being profiled."""
    cloner = EventCloner(run_question_answer("where do many clients' requests wait?"))
    log = out.with_suffix(".server.log")
    with (
        fresh_store(SQLITE, "profile", Postgres()) as env,
        running_server(env, WORKSPACE, log) as server,
    ):
        _concurrency.warm_up(server, cloner, 5)
        with recording(server.pid, out):
            summary, _ = _concurrency.run_phase(server, cloner, clients, seconds)
    for route, found in summary["routes"].items():
        print(
            f"{route}: {found['count']:,} answered, p50 {found.get('p50_seconds', 0) * 1e3:,.1f}"
            f" ms, p99 {found.get('p99_seconds', 0) * 1e3:,.1f} ms,"
            f" not 200 or wrong: {_concurrency.error_text(found['errors'])}"
        )


def _otlp(out: Path, backend: str, executions: int, gil: bool) -> None:
    """`bench.otlp`'s server path (the same sender, spans and warm-up), profiled while timed."""
    template = run_question_answer("where does an OTLP export spend its time?")
    sizes = replace(otlp.FULL, executions=executions)
    python = sender_python() or sys.executable
    postgres = ingest.postgres_from_env()
    if backend == POSTGRES:
        postgres.ensure_database()
    with fresh_store(backend, "profile", postgres) as env:
        found = otlp.time_http(
            env,
            python,
            spans_of(template),
            sizes,
            out.with_suffix(".server.log"),
            lambda pid: recording(pid, out, gil),
        )
    print(
        f"{found['acknowledged']['spans_per_second']:,.0f} spans/s acknowledged,"
        f" {found['visible']['spans_per_second']:,.0f} visible in status"
    )


def _history_streams(out: Path, spans: int, rounds: int, gil: bool) -> None:
    """`bench.audit`'s history: a wide execution posted to a server, then whole NDJSON streams
    of it read back while the server is profiled."""
    made = _history.build(workspace_id_for(WORKSPACE), spans)
    with (
        fresh_store(SQLITE, "profile", Postgres()) as env,
        running_server(env, WORKSPACE, out.with_suffix(".server.log")) as server,
        httpx.Client(
            base_url=server.base_url, headers={"X-API-KEY": server.api_key}, timeout=120
        ) as client,
    ):
        token = _history.post(client, made)
        _history.wait_visible(client, made.execution_id, token, 300)
        read = _history.stream_reader(client, made.execution_id, len(made.events))
        read(0)
        with recording(server.pid, out, gil):
            started = time.perf_counter()
            for index in range(rounds):
                read(index)
    seconds = (time.perf_counter() - started) / rounds
    print(f"{rounds} streams of {len(made.events):,} events, {seconds * 1e3:,.0f} ms each")


def main(argv: Sequence[str] | None = None) -> int:
    """Record a profile (or read one), and print its largest costs."""
    parser = argparse.ArgumentParser(prog="python -m bench._profile", description=__doc__)
    parser.add_argument(
        "what",
        choices=("ingest", "replay", "detail", "concurrency", "otlp", "history", "summary"),
    )
    parser.add_argument("profile", type=Path, nargs="?", help="for summary: the raw profile")
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres"))
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--executions", type=int, default=otlp.FULL.executions)
    parser.add_argument(
        "--gil", action="store_true", help="otlp, history: only samples holding the GIL"
    )
    parser.add_argument("--rounds", type=int, default=20, help="history: streams read")
    parser.add_argument("--clients", type=int, default=_concurrency.FULL.clients)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--process", help="only processes whose command line holds this")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.what == "summary":
        if args.profile is None:
            parser.error("summary needs the profile's path")
        path = args.profile
    else:
        suffix = f"-{args.backend}" if args.what in ("ingest", "otlp") else ""
        suffix += "-gil" if args.gil else ""
        path = args.out / f"profile-{args.what}{suffix}.txt"
        if args.what == "ingest":
            _ingest(path, args.backend, args.events)
        elif args.what == "replay":
            _replay(path, args.events)
        elif args.what == "otlp":
            _otlp(path, args.backend, args.executions, args.gil)
        elif args.what == "concurrency":
            _concurrency_load(path, args.clients, args.seconds)
        elif args.what == "history":
            _history_streams(path, args.spans, args.rounds, args.gil)
        else:
            _detail(path, args.spans)
    print(summarise(path, args.process, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
