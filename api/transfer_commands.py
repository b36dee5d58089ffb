"""`runledger export` and `runledger import`: the log as NDJSON (domain/log/transfer.py),
compressed when the file's name ends in `.gz` or `.zst`, with progress on stderr."""

from __future__ import annotations

import argparse
import gzip
import io
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

import zstandard
from eventsourcing.persistence import StoredEvent

from api.settings import Settings
from domain.keys import workspace_id_for
from domain.log.ledger import SQLITE_MODULE, Ledger
from domain.log.transfer import Selection, header_line, lines_of, read_header, stored_of_line
from domain.vocabulary import EVENT_NAMES

# Records an export reads, and an import stores, at a time: one transaction each on import.
_BATCH = 1000
_PROGRESS_SECONDS = 1.0


@contextmanager
def _open(path: str | None, mode: str) -> Iterator[IO[bytes]]:
    """The file (stdin or stdout for none or '-'), compressed by its name's ending."""
    if path in (None, "-"):
        yield sys.stdout.buffer if mode == "wb" else sys.stdin.buffer
        return
    name = Path(path)
    if name.suffix == ".gz":
        with gzip.GzipFile(name, mode) as packed:
            yield cast(IO[bytes], packed)
    elif name.suffix == ".zst" and mode == "wb":
        with name.open(mode) as raw, zstandard.ZstdCompressor().stream_writer(raw) as packed:
            yield packed
    elif name.suffix == ".zst":
        with name.open(mode) as raw, zstandard.ZstdDecompressor().stream_reader(raw) as unpacked:
            # Buffered, so lines can be read from it.
            yield io.BufferedReader(unpacked)
    else:
        with name.open(mode) as plain:
            yield plain


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name} must be an ISO-8601 time, got {value!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ledger(settings: Settings, *, writes: bool) -> Ledger:
    # The embedded default's folder may not exist yet (an import into a new instance).
    if settings.log_env["PERSISTENCE_MODULE"] == SQLITE_MODULE:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    # Nothing in this process reads what it writes: no tail of recent records. Only a writer
    # chains a log from before the chain (an export leaves the log as it found it).
    return Ledger(settings.log_env, tail_records=0, upgrade_chain=writes)


class _Progress:
    """A line on stderr, redrawn at most once a second, and once at the end."""

    def __init__(self, verb: str) -> None:
        self._verb = verb
        self._shown = 0.0

    def show(self, text: str, *, last: bool = False) -> None:
        now = time.monotonic()
        if last or now - self._shown >= _PROGRESS_SECONDS:
            self._shown = now
            end = "\n" if last else ""
            print(f"\r{self._verb} {text}", end=end, file=sys.stderr, flush=True)


def export_command(args: argparse.Namespace, settings: Settings) -> int:
    """Write the log's selected records to `-o` (stdout by default)."""
    selection = Selection(
        workspace_id=workspace_id_for(args.workspace) if args.workspace else None,
        since=_time(args.since, "--since"),
        until=_time(args.until, "--until"),
    )
    ledger = _ledger(settings, writes=False)
    progress = _Progress("exported")
    written = 0
    try:
        head = ledger.max_position()
        with _open(args.output, "wb") as out:
            chosen = {"workspace": args.workspace, "since": args.since, "until": args.until}
            out.write(header_line(datetime.now(UTC), head, chosen) + b"\n")
            position = 0
            while position < head:
                # PostgreSQL's positions have gaps: a page may reach past the head read above.
                records = [
                    record
                    for record in ledger.scan(position, min(_BATCH, head - position))
                    if record[0] <= head
                ]
                if not records:
                    break
                for line in lines_of(records, selection):
                    out.write(line + b"\n")
                    written += 1
                position = records[-1][0]
                progress.show(f"{written} records, position {position} of {head}")
    finally:
        ledger.close()
    progress.show(f"{written} records of the log up to position {head}", last=True)
    return 0


def import_command(args: argparse.Namespace, settings: Settings) -> int:
    """Store the file's records that this log does not hold yet; exit 1 when an aggregate's
    record this log holds differs from the file's (the histories conflict)."""
    ledger = _ledger(settings, writes=True)
    progress = _Progress("imported")
    counts = _ImportCounts()
    try:
        with _open(args.file, "rb") as source:
            read_header(source.readline())
            number = 1
            batch: list[StoredEvent] = []
            for line in source:
                number += 1
                if line.strip():
                    batch.append(stored_of_line(number, line))
                if len(batch) == _BATCH:
                    counts.store(ledger, batch)
                    batch = []
                    progress.show(counts.summary())
            counts.store(ledger, batch)
    finally:
        ledger.close()
    progress.show(counts.summary(), last=True)
    for conflict in counts.conflicts:
        print(conflict, file=sys.stderr)
    return 1 if counts.conflicts else 0


class _ImportCounts:
    """What an import stored, found held already, and found held differently."""

    def __init__(self) -> None:
        self.new = self.held = 0
        self.conflicts: list[str] = []

    def store(self, ledger: Ledger, batch: list[StoredEvent]) -> None:
        positions = ledger.insert_records(batch)
        for position, record in zip(positions, batch, strict=True):
            if position is not None:
                self.new += 1
                continue
            self.held += 1
            # An aggregate's record held under the same stream and version must be the same
            # record: else two histories (a deployment of the same name, say) would merge
            # silently. A received event's id is its identity, as ingest treats a repeat.
            if record.topic not in EVENT_NAMES:
                ours = ledger.held_state(record.originator_id, record.originator_version)
                if ours != record.state:
                    self.conflicts.append(
                        f"conflict: {record.topic} {record.originator_id} version "
                        f"{record.originator_version} is held here with other contents; "
                        "the file's record was not stored"
                    )

    def summary(self) -> str:
        return f"{self.new} new records, {self.held} already held, {len(self.conflicts)} conflicts"


def add_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    data: argparse.ArgumentParser,
    settings_of: Callable[[argparse.Namespace, Mapping[str, str]], Settings],
) -> None:
    """`export` and `import` in the CLI's grammar; `settings_of` reads the settings as every
    command does (`--data`, the environment)."""

    def with_settings(
        command: Callable[[argparse.Namespace, Settings], int],
    ) -> Callable[[argparse.Namespace, Mapping[str, str]], int]:
        return lambda args, env: command(args, settings_of(args, env))

    export = commands.add_parser(
        "export", help="write the log as NDJSON (.gz or .zst compressed by name)", parents=[data]
    )
    export.add_argument("--workspace", help="only this workspace's records (its name)")
    export.add_argument("--since", help="received events from this ISO-8601 time on")
    export.add_argument("--until", help="received events before this ISO-8601 time")
    export.add_argument("-o", "--output", help="the file (default: standard output)")
    export.set_defaults(handler=with_settings(export_command))
    load = commands.add_parser(
        "import", help="store an export's records this log does not hold yet", parents=[data]
    )
    load.add_argument("file", help="an export (.gz or .zst by name; - for standard input)")
    load.set_defaults(handler=with_settings(import_command))
