"""Where `POST /v1/traces` spends its time per span, stage by stage, in-process: no HTTP, no
projection thread, no other thread wanting the GIL.

    .venv/bin/python -m bench._otlp_stages [--executions 2000] [--rounds 3]

The exporter's bodies are captured as `bench.otlp` captures them (same trace, same sender,
same seed), then each stage of the route (api/routes/traces.py) runs over all of them, in the
route's order: read the protobuf; make each span's log records (`span_records`: map it to its
events, write each with orjson, check what the sender controls in it, build its envelope);
append them to a fresh SQLite log. The mapping alone (`span_events`) is timed too, as a part
of the second stage, not added to the sum. Best of `rounds` per stage (a shared machine only
ever slows a stage down); prints µs per span and each stage's share, and the sum as a rate.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from bench._capture import capturing
from bench._otlp_raw import log_batches
from bench._phoenix import export, sender_python, spans_of
from bench._runners import WORKSPACE, _frozen_heap, best_seconds
from bench._stores import SQLITE, Postgres, fresh_store, open_log
from bench._workflow import run_question_answer
from bench.otlp import TIMED_SEED
from domain.keys import workspace_id_for
from domain.otel_mapping import span_events, span_records
from domain.otlp import read_protobuf

MAX_EVENTS = 10_000


def _append_seconds(bodies: Sequence[bytes], rounds: int) -> float:
    """`Ledger.append` of the route's batches, each round into a fresh SQLite log."""
    workspace_id = workspace_id_for(WORKSPACE)
    batches, _ = log_batches(workspace_id, bodies, MAX_EVENTS)
    seconds = []
    for index in range(rounds):
        with fresh_store(SQLITE, f"stages{index}", Postgres()) as env:
            ledger = open_log(env)
            try:
                with _frozen_heap():
                    started = time.perf_counter()
                    for batch in batches:
                        ledger.append(workspace_id, batch, datetime.now(UTC))
                    seconds.append(time.perf_counter() - started)
            finally:
                ledger.close()
    return min(seconds)


MAPPING = "(of which the mapping alone, span_events)"


def stages(bodies: Sequence[bytes], rounds: int) -> dict[str, float]:
    """Seconds of each stage over all the bodies, best of `rounds` (and of the mapping alone,
    under MAPPING: a part of the records' stage)."""
    requests = [read_protobuf(body) for body in bodies]
    spans = [span for found in requests for span in found.spans]
    return {
        "read the protobuf (domain/otlp.py)": best_seconds(
            lambda: list(map(read_protobuf, bodies)), rounds
        ),
        "make the log records (span_records)": best_seconds(
            lambda: list(map(span_records, spans)), rounds
        ),
        MAPPING: best_seconds(lambda: list(map(span_events, spans)), rounds),
        "append to a SQLite log (Ledger.append)": _append_seconds(bodies, rounds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Capture, time each stage, print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench._otlp_stages", description=__doc__)
    parser.add_argument("--executions", type=int, default=2_000, help="3-span traces")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    trace = spans_of(run_question_answer("where does an OTLP export spend its time?"))
    python = sender_python() or sys.executable
    with capturing() as (endpoint, bodies):
        export(python, endpoint, [trace], args.executions, 120, seed=TIMED_SEED)
    span_count = len(trace) * args.executions
    found = stages(bodies, args.rounds)
    total = sum(seconds for name, seconds in found.items() if name != MAPPING)
    for name, seconds in found.items():
        print(f"{name:42} {seconds / span_count * 1e6:8.1f} µs/span  {seconds / total:6.1%}")
    print(
        f"{'all stages':42} {total / span_count * 1e6:8.1f} µs/span:"
        f" {span_count / total:,.0f} spans/s in one thread; the append alone"
        f" {span_count / found['append to a SQLite log (Ledger.append)']:,.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
