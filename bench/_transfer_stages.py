"""Where `runledger export` and `import` spend their time per record, stage by stage, in one
process, on a SQLite log of the audit part's execution.

    python -m bench._transfer_stages [--spans 20000] [--repetitions 3]

The execution (`bench._history.build`) is appended to a fresh SQLite log with `Ledger.append`
(as ingest stores it); then, each best of `repetitions`: the scan the export loops over
(`Ledger.scan`, batches of 1,000), the export's selection (`Selection.keeps`, with nothing
selected) and its formatting (`record_line`) of the scanned records; the import's parse of
the lines (`stored_of_line`), and `Ledger.insert_records` of the parsed records into a fresh
log (with `tail_records=0`, as the command opens it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import orjson
from eventsourcing.persistence import StoredEvent

from bench._history import build
from bench._runners import best_seconds
from bench._transfer import BATCH, run_command
from domain.envelope import Envelope, validate_event
from domain.keys import workspace_id_for
from domain.log.ledger import SQLITE_MODULE, Ledger
from domain.log.transfer import Selection, record_line, stored_of_line

WORKSPACE = "bench-audit"


def _ledger(path: Path) -> Ledger:
    return Ledger({"PERSISTENCE_MODULE": SQLITE_MODULE, "SQLITE_DBNAME": str(path)}, tail_records=0)


def main(argv: list[str] | None = None) -> int:
    """Fill a log, time each stage, print a table."""
    parser = argparse.ArgumentParser(prog="python -m bench._transfer_stages", description=__doc__)
    parser.add_argument("--spans", type=int, default=20_000, help="node spans under the root")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args(argv)
    workspace_id = workspace_id_for(WORKSPACE)
    made = build(workspace_id, args.spans)
    envelopes = []
    for index, event in enumerate(made.events):
        found = validate_event(orjson.loads(event.raw), event.raw, index)
        assert isinstance(found, Envelope)
        envelopes.append(found)
    folder = Path(tempfile.mkdtemp(prefix="runledger-transfer-stages-"))
    try:
        source_path = folder / "source.sqlite"
        source = _ledger(source_path)
        for start in range(0, len(envelopes), BATCH):
            source.append(workspace_id, envelopes[start : start + BATCH], datetime.now(UTC))
        # Closed and opened again, as the audit part exports a log its server has closed.
        source.close()
        source = _ledger(source_path)
        end = source.max_position()
        source_env = {"PERSISTENCE_MODULE": SQLITE_MODULE, "SQLITE_DBNAME": str(source_path)}
        scanned: list[tuple[int, StoredEvent]] = []

        def scan() -> None:
            scanned.clear()
            position = 0
            while position < end:
                records = source.scan(position, min(BATCH, end - position))
                scanned.extend(records)
                position = records[-1][0]

        lines: list[bytes] = []

        def select() -> None:
            selection = Selection()
            for _, stored in scanned:
                selection.keeps(stored)

        def format_lines() -> None:
            lines[:] = [record_line(position, stored) for position, stored in scanned]

        parsed: list[StoredEvent] = []

        def parse() -> None:
            parsed[:] = [stored_of_line(n, line) for n, line in enumerate(lines, start=2)]

        targets = iter(range(2 * args.repetitions))

        def insert() -> None:
            target = _ledger(folder / f"target-{next(targets)}.sqlite")
            try:
                for start in range(0, len(parsed), BATCH):
                    target.insert_records(parsed[start : start + BATCH])
            finally:
                target.close()

        export_file = folder / "export.ndjson"

        def export_command() -> None:
            run_command(source_env, ["export", "-o", str(export_file)])

        def import_command() -> None:
            target = folder / f"imported-{next(targets)}.sqlite"
            run_command(
                {"PERSISTENCE_MODULE": SQLITE_MODULE, "SQLITE_DBNAME": str(target)},
                ["import", str(export_file)],
            )

        stages = {
            "export: the whole command, plain file": export_command,
            "export: Ledger.scan, batches of 1,000": scan,
            "export: Selection.keeps (nothing selected)": select,
            "export: record_line": format_lines,
            "import: stored_of_line": parse,
            "import: Ledger.insert_records, batches of 1,000": insert,
            "import: the whole command, plain file": import_command,
        }
        print(f"{end:,} records; best of {args.repetitions}")
        for title, work in stages.items():
            seconds = best_seconds(work, args.repetitions)
            print(f"  {title:50} {seconds * 1e3:8,.1f} ms  {seconds / end * 1e6:6.1f} µs/record")
        source.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
