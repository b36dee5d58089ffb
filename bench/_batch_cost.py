"""What one projection batch costs, and how much of it each materialized view adds.

    .venv/bin/python -m bench._batch_cost [--batch 270] [--events 60000]

The same SDK events, read from one SQLite log in batches of `--batch` (270 is what the lag
run's 2,700 events/s gathers in 0.1 s), are applied through `ClickHouseStore.apply` to five
databases of one chDB engine: one with every view, one without each of the four views on
`events`, one with none of them. Each batch goes to all five in turn, in a rotating order, so
the machine's noise (shared, two cores) falls on every configuration alike; the difference to
"every view" is what a view costs a batch. CPU is the process's, chDB's threads included.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench._events import EventCloner
from bench._runners import WORKSPACE, _frozen_heap
from bench._workflow import run_question_answer
from bench.projections import _fill_log
from domain.keys import workspace_id_for
from domain.log.ledger import SQLITE_MODULE, Ledger
from projections.clickhouse import connect
from projections.migrations import apply_migrations
from projections.store import ClickHouseStore

VIEWS = ("span_detail_mv", "executions_header_mv", "span_usage_mv", "otel_traces_mv")
CONFIGURATIONS: dict[str, tuple[str, ...]] = {
    "every view": (),
    **{f"without {view}": (view,) for view in VIEWS},
    "no view": VIEWS,
}


def measure(batch_size: int, event_count: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per configuration, each batch's wall and CPU seconds."""
    work = Path(tempfile.mkdtemp(prefix="runledger-batch-cost-"))
    ledger = Ledger({"PERSISTENCE_MODULE": SQLITE_MODULE, "SQLITE_DBNAME": str(work / "log")})
    cloner = EventCloner(run_question_answer("what does a projection batch cost?"))
    _fill_log(ledger, workspace_id_for(WORKSPACE), cloner, event_count)
    stores = {}
    for index, (name, dropped) in enumerate(CONFIGURATIONS.items()):
        client = connect(f"chdb://{work / 'clickhouse'}", f"cost{index}")
        apply_migrations(client)
        for view in dropped:
            client.command(f"DROP VIEW {view}")
        stores[name] = ClickHouseStore(client)
    times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in CONFIGURATIONS}
    names = list(CONFIGURATIONS)
    position = 0
    with _frozen_heap():
        while events := ledger.read(after=position, limit=batch_size):
            position = events[-1].position
            names = names[1:] + names[:1]
            for name in names:
                wall, cpu = time.perf_counter(), time.process_time()
                stores[name].apply(events)
                times[name][0].append(time.perf_counter() - wall)
                times[name][1].append(time.process_time() - cpu)
    return times


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench._batch_cost", description=__doc__)
    parser.add_argument("--batch", type=int, default=270, help="events per batch")
    parser.add_argument("--events", type=int, default=60_000, help="events in the log")
    args = parser.parse_args()
    times = measure(args.batch, args.events)
    base_wall = statistics.median(times["every view"][0])
    base_cpu = statistics.mean(times["every view"][1])
    batches = len(times["every view"][0])
    print(f"{batches} batches of {args.batch} events, each applied to every configuration")
    print(f"{'configuration':<26} {'wall p50 ms':>11} {'p90':>7} {'CPU mean ms':>11} {'saves':>7}")
    for name, (walls, cpus) in times.items():
        wall = statistics.median(walls)
        p90 = statistics.quantiles(walls, n=10)[-1]
        cpu = statistics.mean(cpus)
        saves = f"{(base_cpu - cpu) * 1e3:6.1f}" if name != "every view" else "     -"
        print(f"{name:<26} {wall * 1e3:11.1f} {p90 * 1e3:7.1f} {cpu * 1e3:11.1f} {saves:>7}")
    print(f"(every view: wall p50 {base_wall * 1e3:.1f} ms; 'saves' is CPU per batch)")


if __name__ == "__main__":
    main()
