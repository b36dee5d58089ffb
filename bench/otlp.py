"""Issue 22: OTLP/HTTP ingest beside the raw log append of the same records and beside Phoenix.

    python -m bench.otlp [--quick] [--skip-phoenix] [--out DIR]

The spans are the benchmark's own workflow as a trace (`bench._phoenix.spans_of`: 3 spans per
execution, the snapshots as span events), sent `executions` times by the OpenTelemetry SDK's
`BatchSpanProcessor` (batches of 512) and OTLP/HTTP protobuf exporter
(`bench/_phoenix_send.py`), with ids from a seeded generator: every path gets the same spans,
with the same ids. Paths, each round in alternating order:

- exporter: the sender against an endpoint in this process that keeps the bodies and answers at
  once (`bench._capture`): what the exporter alone reaches, the ceiling on any receiver timed
  with it. Its bodies, captured once, are what the raw path maps.
- raw: the log records the route makes of those bodies (mapped untimed, `bench._otlp_raw`),
  `Ledger.append`ed in the route's own batches into a fresh log: spans/s.
- http: `runledger serve` in its default configuration (projection thread, embedded chDB), a
  fresh log, a warm-up send first; spans/s acknowledged (the sender's first span begun to every
  export answered) and visible in status (to the status of the last trace's execution read with
  the last export's `X-Runledger-Log-Position` token, as `bench.ingest` waits for its last
  batch; it must read FULFILLED). Afterwards, untimed, every execution must count as FULFILLED.
- phoenix: Arize Phoenix (`bench._phoenix`), after a warm-up send, the same spans until its
  GraphQL `recordCount` holds them all, as `bench._peer` measures its ingest; once, not per
  round (it takes minutes). `--quick` runs it only if Phoenix's venv is already installed.

Goals (bench/_goals.py): the server's spans/s visible in status at least 0.5 of the raw append,
and at least 40 times Phoenix's. A goal not met never fails the run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson

from api.settings import Settings
from bench import _report
from bench._capture import capturing
from bench._goals import HEADER as GOALS_HEADER
from bench._goals import otlp_goals
from bench._otlp_raw import log_batches
from bench._phoenix import (
    PHOENIX_VERSION,
    Exported,
    ensure_venv,
    export,
    installed_version,
    running_phoenix,
    send,
    sender_python,
    spans_of,
)
from bench._phoenix import span_count as phoenix_span_count
from bench._runners import WORKSPACE, process_cpu_seconds, status_when_visible, time_append
from bench._server import running_server
from bench._stores import BACKENDS, POSTGRES, Env, fresh_store
from bench._workflow import run_question_answer
from bench.ingest import postgres_from_env
from domain.envelope import Envelope, Json
from domain.keys import workspace_id_for
from domain.otel_mapping import OTLP_TRACES

TIMED_SEED = 22
WARMUP_SEED = 2222


@dataclass(frozen=True)
class Sizes:
    """How many copies of the 3-span trace each path is sent, and how often."""

    executions: int
    warmup_executions: int
    rounds: int
    backends: tuple[str, ...]
    install_phoenix: bool  # False: Phoenix runs only if its venv is already there
    timeout_seconds: float


# Phoenix stores 160-280 spans/s here: 12,000 spans take it 45-75 s, the part about 3 minutes.
FULL = Sizes(4_000, 200, 2, BACKENDS, True, 600)
QUICK = Sizes(200, 10, 1, BACKENDS, False, 120)


def _log(message: str) -> None:
    print(message, flush=True)


def _exporter_version(python: Path | str) -> str:
    done = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m;"
            "print(m.version('opentelemetry-exporter-otlp-proto-http'))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done.stdout.strip() or "absent"


def _spans_per_second(span_count: int, seconds: float) -> dict[str, float]:
    return {"seconds": seconds, "spans_per_second": span_count / seconds}


def execution_of(trace_id_hex: str) -> str:
    """The id of the execution an OTLP trace becomes (domain/otel_mapping.py)."""
    return str(uuid.uuid5(OTLP_TRACES, trace_id_hex))


def _check_acknowledged(sent: Exported, where: str) -> None:
    if sent.acknowledged_count != sent.span_count:
        raise RuntimeError(f"{where} acknowledged {sent.acknowledged_count} of {sent.span_count}")


def _visible(http: httpx.Client, sent: Exported, timeout_seconds: float) -> dict[str, Any]:
    """The status of the last trace's execution once the last export is visible in it."""
    if sent.last_position is None:
        raise RuntimeError("the server answered no X-Runledger-Log-Position")
    deadline = time.monotonic() + timeout_seconds
    status = status_when_visible(
        http, execution_of(sent.trace_ids[-1]), sent.last_position, deadline
    )
    if status["status"] != "FULFILLED":
        raise RuntimeError(f"the last trace's execution reads {status['status']}, not FULFILLED")
    return status


def time_http(
    env: Env,
    python: Path | str,
    trace: list[dict[str, Any]],
    sizes: Sizes,
    log_path: Path,
    timed_block: Callable[[int], AbstractContextManager[None]] = lambda pid: nullcontext(),
) -> dict[str, Any]:
    """One round of the server path into the fresh log `env` names; `timed_block(server pid)`
    is around the timed send and wait alone (a profiler)."""
    with running_server(env, WORKSPACE, log_path) as server:
        # The exporter's key as OpenTelemetry's docs put it; the read routes take X-API-KEY.
        headers = {"Authorization": f"Bearer {server.api_key}"}
        endpoint = f"{server.base_url}/v1/traces"
        reader = {"X-API-KEY": server.api_key}
        with httpx.Client(base_url=server.base_url, headers=reader, timeout=120) as http:
            warm = export(
                python,
                endpoint,
                [trace],
                sizes.warmup_executions,
                sizes.timeout_seconds,
                headers=headers,
                seed=WARMUP_SEED,
            )
            _check_acknowledged(warm, "the server (warm-up)")
            _visible(http, warm, sizes.timeout_seconds)
            with timed_block(server.pid):
                cpu_started = process_cpu_seconds(server.pid)
                sent = export(
                    python,
                    endpoint,
                    [trace],
                    sizes.executions,
                    sizes.timeout_seconds,
                    headers=headers,
                    seed=TIMED_SEED,
                )
                _visible(http, sent, sizes.timeout_seconds)
                visible_at = time.time()
                cpu = process_cpu_seconds(server.pid) - cpu_started
            _check_acknowledged(sent, "the server")
            counted = http.get("/v1/workflow-executions/count", params={"group_by": "status"})
            counted.raise_for_status()
    groups = {g["value"]: g["count"] for g in counted.json()["groups"]}
    expected = sizes.warmup_executions + sizes.executions
    if groups != {"FULFILLED": expected}:
        raise RuntimeError(f"expected {expected} FULFILLED executions, counted {groups}")
    return {
        "acknowledged": _spans_per_second(sent.span_count, sent.flushed_at - sent.started_at),
        "visible": _spans_per_second(sent.span_count, visible_at - sent.started_at),
        "server_cpu_ms_per_span": cpu / sent.span_count * 1e3,
    }


def _phoenix_path(
    skipped: str | None, trace: list[dict[str, Any]], sizes: Sizes, logs: Path
) -> dict[str, Any]:
    """Phoenix ingesting the same spans (same seed: the same ids) until queryable."""
    if skipped is not None:
        return {"skipped": skipped}
    with running_phoenix(logs / "phoenix-otlp.log") as phoenix:
        warm = len(trace) * sizes.warmup_executions
        send(phoenix, "warmup", [trace], sizes.warmup_executions, warm, sizes.timeout_seconds)
        expected = len(trace) * sizes.executions
        cpu_started = process_cpu_seconds(phoenix.pid)
        sent = send(
            phoenix,
            "otlp",
            [trace],
            sizes.executions,
            expected,
            sizes.timeout_seconds,
            seed=TIMED_SEED,
        )
        cpu = process_cpu_seconds(phoenix.pid) - cpu_started
        with httpx.Client(base_url=phoenix.base_url, timeout=60) as http:
            held = phoenix_span_count(http, "otlp")
    if held != expected:
        raise RuntimeError(f"Phoenix holds {held} spans of the {expected} sent")
    return {
        "version": PHOENIX_VERSION,
        "acknowledged": _spans_per_second(expected, sent.flushed_at - sent.started_at),
        "queryable": _spans_per_second(expected, sent.queryable_at - sent.started_at),
        "cpu_ms_per_span": cpu / expected * 1e3,
    }


@dataclass(frozen=True)
class _Prepared:
    """What every round sends or appends, built once, untimed."""

    python: Path | str
    trace: list[dict[str, Any]]
    span_count: int
    # Per backend: the log batches of the timed exports and of the warm-up's.
    batches: dict[str, tuple[list[list[Envelope]], list[list[Envelope]]]]
    export_count: int
    export_bytes: list[int]


def _prepare(python: Path | str, template: list[Json], sizes: Sizes) -> _Prepared:
    """The trace; the exporter's bodies, captured; the log records the route makes of them."""
    trace = spans_of(template)
    with capturing() as (endpoint, bodies):
        export(python, endpoint, [trace], sizes.warmup_executions, 120, seed=WARMUP_SEED)
        warm_bodies = list(bodies)
        bodies.clear()
        export(python, endpoint, [trace], sizes.executions, 120, seed=TIMED_SEED)
        timed_bodies = list(bodies)
    span_count = len(trace) * sizes.executions
    batches = {}
    workspace_id = workspace_id_for(WORKSPACE)
    for backend in sizes.backends:
        with fresh_store(backend, "otlpsettings", postgres_from_env()) as env:
            max_events = Settings.from_env(env).max_batch_events
        timed, mapped = log_batches(workspace_id, timed_bodies, max_events)
        if mapped != span_count:
            raise RuntimeError(f"the captured exports hold {mapped} spans of {span_count}")
        batches[backend] = (timed, log_batches(workspace_id, warm_bodies, max_events)[0])
    return _Prepared(
        python,
        trace,
        span_count,
        batches,
        len(timed_bodies),
        [len(body) for body in timed_bodies],
    )


def _round(prepared: _Prepared, sizes: Sizes, logs: Path, index: int) -> dict[str, Any]:
    """Every path but Phoenix once, in alternating order from round to round."""
    found: dict[str, Any] = {}
    count = prepared.span_count

    def exporter() -> None:
        with capturing() as (endpoint, _):
            sent = export(prepared.python, endpoint, [prepared.trace], sizes.executions, 120)
        found["exporter"] = _spans_per_second(count, sent.flushed_at - sent.started_at)
        _log(f"  exporter alone: {found['exporter']['spans_per_second']:9,.0f} spans/s")

    def raw(backend: str) -> None:
        timed, warm = prepared.batches[backend]
        with fresh_store(backend, f"otlpraw{index}", postgres_from_env()) as env:
            timing = time_append(env, workspace_id_for(WORKSPACE), timed, warm)
        if timing.acknowledged_count != sum(len(batch) for batch in timed):
            raise RuntimeError(f"raw {backend}: {timing.acknowledged_count} events appended")
        found[f"{backend}/raw"] = _spans_per_second(count, timing.seconds)
        _log(
            f"  {backend:8} raw append: {found[f'{backend}/raw']['spans_per_second']:9,.0f} spans/s"
        )

    def http(backend: str) -> None:
        with fresh_store(backend, f"otlphttp{index}", postgres_from_env()) as env:
            log_path = logs / f"server-otlp-{backend}-{index}.log"
            result = time_http(env, prepared.python, prepared.trace, sizes, log_path)
        found[f"{backend}/http"] = result
        _log(
            f"  {backend:8} HTTP:       {result['acknowledged']['spans_per_second']:9,.0f}"
            f" spans/s acknowledged, {result['visible']['spans_per_second']:9,.0f} visible"
            f" in status ({result['server_cpu_ms_per_span']:.2f} ms server CPU/span)"
        )

    paths: list[Callable[[], None]] = [exporter]
    for backend in sizes.backends:
        paths += [partial(raw, backend), partial(http, backend)]
    for path in paths if index % 2 == 0 else paths[::-1]:
        path()
    return found


def _rates(found: dict[str, Any]) -> dict[str, float]:
    """One round's spans/s by path: `exporter`, `sqlite/raw`, `sqlite/http/visible`, ..."""
    rates = {}
    for path, figures in found.items():
        if "spans_per_second" in figures:
            rates[path] = figures["spans_per_second"]
        else:
            for kind in ("acknowledged", "visible"):
                rates[f"{path}/{kind}"] = figures[kind]["spans_per_second"]
    return rates


def measure(
    template: list[Json], sizes: Sizes, logs: Path, *, skip_phoenix: bool = False
) -> dict[str, Any]:
    """Every path, `sizes.rounds` times (Phoenix once, unless `skip_phoenix`); each round's
    figures and the best."""
    logs.mkdir(parents=True, exist_ok=True)
    if skip_phoenix:
        skipped: str | None = "skipped on request (--skip-phoenix)"
    elif sizes.install_phoenix:
        skipped = ensure_venv(logs / "phoenix-install.log")
    elif installed_version() != PHOENIX_VERSION:
        skipped = "Phoenix's venv is not installed (--quick installs nothing)"
    else:
        skipped = None
    # The sender runs in Phoenix's venv when there is one (one exporter for every path), else
    # in ours, whose dev extras hold the same SDK and exporter.
    python: Path | str = (sender_python() if skipped is None else None) or sys.executable
    if POSTGRES in sizes.backends:
        postgres_from_env().ensure_database()
    prepared = _prepare(python, template, sizes)
    events = sum(len(batch) for batch in prepared.batches[sizes.backends[0]][0])
    _log(
        f"otlp: {prepared.span_count:,} spans ({sizes.executions:,} traces of"
        f" {len(prepared.trace)}) in {prepared.export_count} exports, the largest"
        f" {max(prepared.export_bytes) / 1e6:.2f} MB; the log records {events:,} events of them"
    )
    rounds = []
    for index in range(sizes.rounds):
        _log(f"  round {index + 1}")
        rounds.append(_round(prepared, sizes, logs, index))
    rates = [_rates(found) for found in rounds]
    phoenix = _phoenix_path(skipped, prepared.trace, sizes, logs)
    if "skipped" in phoenix:
        _log(f"  Phoenix: SKIPPED, {phoenix['skipped']}")
    else:
        _log(
            f"  Phoenix:         {phoenix['queryable']['spans_per_second']:9,.0f} spans/s"
            f" queryable ({phoenix['cpu_ms_per_span']:.1f} ms CPU/span)"
        )
    return {
        "sizes": asdict(sizes),
        "spans": prepared.span_count,
        "spans_per_trace": len(prepared.trace),
        "events": events,
        "exports": prepared.export_count,
        "export_bytes": sum(prepared.export_bytes),
        "sender": {"python": str(python), "exporter": _exporter_version(python)},
        "rounds": rounds,
        "rates": rates,
        # Each path's best round: on a shared machine others only ever slow a path down.
        "best": {path: max(r[path] for r in rates) for path in rates[0]},
        "phoenix": phoenix,
    }


_TITLES = {
    "exporter": "the exporter alone (endpoint answering at once)",
    "raw": "raw append of the same records",
    "http/acknowledged": "runledger serve, acknowledged",
    "http/visible": "runledger serve, acknowledged and visible in status",
}


def otlp_table(results: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """Spans/s of each path (best round, every round), beside the raw append and Phoenix."""
    best = results["best"]
    phoenix = results["phoenix"]
    theirs = phoenix["queryable"]["spans_per_second"] if "skipped" not in phoenix else None
    rows = []
    for path, rate in best.items():
        backend, _, kind = path.partition("/") if path != "exporter" else ("-", "", path)
        raw = best.get(f"{backend}/raw")
        rows.append(
            [
                backend,
                _TITLES[kind],
                f"{rate:,.0f}",
                " / ".join(f"{r[path]:,.0f}" for r in results["rates"]),
                f"{rate / raw:.2f}" if raw else "-",
                f"{rate / theirs:,.1f}" if theirs else "-",
            ]
        )
    if theirs is not None:
        title = f"Arize Phoenix {phoenix['version']} (SQLite), queryable"
        rows.append(["-", title, f"{theirs:,.0f}", f"{theirs:,.0f}", "-", "1.0"])
    header = ["log", "path", "spans/s", "each round", "of raw", "of Phoenix"]
    title = (
        f"OTLP/HTTP ingest, protobuf, batches of 512 from the SDK's exporter: {results['spans']:,}"
        f" spans ({results['events']:,} log records) per path, best round"
    )
    return title, header, rows


def main(argv: list[str] | None = None) -> int:
    """Run, print, and write bench/results/otlp.{json,md} (`otlp-quick.*` with --quick)."""
    parser = argparse.ArgumentParser(prog="python -m bench.otlp", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: the paths work")
    parser.add_argument(
        "--skip-phoenix",
        action="store_true",
        help="no Phoenix: neither installed nor run (the goal beside it is then not judged)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="results folder")
    args = parser.parse_args(argv)
    started = time.monotonic()
    template = run_question_answer("how far ahead of its peers is the ledger?")
    results = measure(
        template, QUICK if args.quick else FULL, args.out / "logs", skip_phoenix=args.skip_phoenix
    )
    title, header, rows = otlp_table(results)
    found = otlp_goals({"otlp": results})
    goal_rows = [goal.cells() for goal in found]
    print(f"\n{title}\n\n{_report.text_table(header, rows)}\n")
    print(_report.text_table(GOALS_HEADER, goal_rows))
    meta = {
        "benchmark": "otlp",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": _report.machine(),
        "versions": _report.versions(),
        "source": _report.source_revision(),
        "elapsed_seconds": round(time.monotonic() - started, 1),
    }
    stem = "otlp-quick" if args.quick else "otlp"
    args.out.mkdir(parents=True, exist_ok=True)
    document = {**meta, "goals": [g.as_json() for g in found], "results": results}
    (args.out / f"{stem}.json").write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    (args.out / f"{stem}.md").write_text(
        f"**{title}**\n\n{_report.markdown_table(header, rows)}\n\n"
        f"{_report.markdown_table(GOALS_HEADER, goal_rows)}\n"
    )
    print(f"\nwrote {args.out / stem}.json and .md in {meta['elapsed_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
