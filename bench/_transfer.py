"""Issue 24's export and import, each beside the log's own read or append of the same records.

- export: `runledger export -o FILE` (plain, and `.zst`) of the whole log, run in this process
  through the CLI's own parser and handler (`api.cli.parser`, so the same code an operator's
  command runs, without the interpreter's start-up, which is timed once apart as a child
  process); beside it, `Ledger.scan` in the command's batches of 1,000 up to the log's end,
  the records as stored, nothing formatted or written.
- import: `runledger import FILE` into a fresh, empty log, likewise; beside it,
  `Ledger.insert_records` of the same `StoredEvent`s (built from the file's lines, untimed, by
  the command's own `stored_of_line`) in the command's batches of 1,000 into another fresh log.

Both sides of each pair open the log as the command does (`tail_records=0`) and include the
open and close in their time: the command pays them too. Rates are per record of the log: the
export's and the scan's over every record up to the log's end (the export leaves out the log's
own secret, one record), the import's and the insert's over the file's records.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from eventsourcing.persistence import StoredEvent

from api import cli
from api.settings import Settings
from bench._runners import _frozen_heap
from bench._stores import Env
from domain.log.ledger import Ledger
from domain.log.transfer import read_header, stored_of_line

# api/transfer_commands.py reads and stores this many records at a time.
BATCH = 1000


def open_ledger(env: Env) -> Ledger:
    """The log as the export and import commands open it: no tail of recent records."""
    settings = Settings.from_env(env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Ledger(settings.log_env, tail_records=0)


def _timed(work: Callable[[], object]) -> float:
    with _frozen_heap():
        started = time.perf_counter()
        work()
        return time.perf_counter() - started


def run_command(env: Env, argv: Sequence[str]) -> float:
    """Seconds the CLI's handler for `argv` takes in this process; its progress lines (on
    stderr, once a second) are kept out of the benchmark's output."""
    args = cli.parser().parse_args(list(argv))

    def work() -> None:
        with contextlib.redirect_stderr(io.StringIO()):
            code = args.handler(args, env)
        if code != 0:
            raise RuntimeError(f"runledger {' '.join(argv)} exited {code}")

    return _timed(work)


def run_child(env: Env, argv: Sequence[str], log_path: Path) -> float:
    """Seconds `python -m api.cli ARGV` takes as a child process, start-up included."""
    with open(log_path, "wb") as log_file:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "api.cli", *argv],
            env={**_inherited(), **env},
            stdout=log_file,
            stderr=log_file,
            check=True,
            timeout=600,
        )
        return time.perf_counter() - started


def _inherited() -> dict[str, str]:
    # As bench._server does: the child gets only the benchmark's Runledger configuration.
    prefixes = ("RUNLEDGER_", "PERSISTENCE_MODULE", "SQLITE_", "POSTGRES_", "CREATE_TABLE")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def head(env: Env) -> int:
    """The position of the log's last record: what an export reads up to."""
    ledger = open_ledger(env)
    try:
        return ledger.max_position()
    finally:
        ledger.close()


def time_scan(env: Env) -> tuple[float, int]:
    """(seconds, records): `Ledger.scan` of the whole log, as the export loops over it."""
    found = 0

    def work() -> None:
        nonlocal found
        ledger = open_ledger(env)
        try:
            end = ledger.max_position()
            position = 0
            while position < end:
                records = ledger.scan(position, min(BATCH, end - position))
                if not records:
                    break
                found += len(records)
                position = records[-1][0]
        finally:
            ledger.close()

    return _timed(work), found


def records_of(path: Path) -> list[StoredEvent]:
    """The records an export file holds, as the import command builds them (plain files)."""
    with path.open("rb") as source:
        read_header(source.readline())
        return [
            stored_of_line(number, line)
            for number, line in enumerate(source, start=2)
            if line.strip()
        ]


def time_insert(env: Env, records: Sequence[StoredEvent]) -> float:
    """Seconds of `Ledger.insert_records` of `records` in batches of 1,000 into `env`'s log."""

    def work() -> None:
        ledger = open_ledger(env)
        try:
            for start in range(0, len(records), BATCH):
                positions = ledger.insert_records(records[start : start + BATCH])
                if None in positions:
                    raise RuntimeError("an empty log already held a record")
        finally:
            ledger.close()

    return _timed(work)


def count_records(env: Env) -> int:
    """How many records the log holds (untimed checks)."""
    ledger = open_ledger(env)
    try:
        found = 0
        position = 0
        while records := ledger.scan(position, BATCH):
            found += len(records)
            position = records[-1][0]
        return found
    finally:
        ledger.close()
