"""The audit benchmark's raw paths handle the records the commands do: its scan reads every
record the export reads, and its insert stores, record for record, what the import stores."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson

from bench._history import build
from bench._transfer import (
    count_records,
    open_ledger,
    records_of,
    run_command,
    time_insert,
    time_scan,
)
from domain.envelope import Envelope, validate_event
from domain.keys import workspace_id_for
from domain.log.ledger import SQLITE_MODULE

WORKSPACE = workspace_id_for("tests-bench-audit")


def sqlite_env(path: Path) -> dict[str, str]:
    return {
        "RUNLEDGER_DATA_DIR": str(path.parent),
        "PERSISTENCE_MODULE": SQLITE_MODULE,
        "SQLITE_DBNAME": str(path),
    }


def filled_log(path: Path, node_count: int) -> dict[str, str]:
    """A SQLite log holding a wide execution, appended as ingest appends it."""
    env = sqlite_env(path)
    envelopes = []
    for index, event in enumerate(build(WORKSPACE, node_count).events):
        found = validate_event(orjson.loads(event.raw), event.raw, index)
        assert isinstance(found, Envelope)
        envelopes.append(found)
    ledger = open_ledger(env)
    try:
        ledger.append(WORKSPACE, envelopes, datetime.now(UTC))
    finally:
        ledger.close()
    return env


def stored_rows(env: dict[str, str]) -> list[tuple[str, int, str, bytes]]:
    ledger = open_ledger(env)
    try:
        return sorted(
            (str(s.originator_id), s.originator_version, s.topic, s.state)
            for _, s in ledger.scan(0, 10_000)
        )
    finally:
        ledger.close()


def test_raw_insert_stores_what_the_import_stores(tmp_path: Path) -> None:
    source = filled_log(tmp_path / "source" / "log.sqlite", node_count=5)
    export = tmp_path / "log.ndjson"
    run_command(source, ["export", "-o", str(export)])
    imported = sqlite_env(tmp_path / "imported" / "log.sqlite")
    inserted = sqlite_env(tmp_path / "inserted" / "log.sqlite")

    run_command(imported, ["import", str(export)])
    time_insert(inserted, records_of(export))

    assert count_records(inserted) == 13  # the root's 3 events, 2 for each of 5 nodes
    assert stored_rows(inserted) == stored_rows(imported) == stored_rows(source)


def test_raw_scan_reads_every_record_of_the_log(tmp_path: Path) -> None:
    source = filled_log(tmp_path / "log.sqlite", node_count=3)

    _, scanned = time_scan(source)

    assert scanned == count_records(source) == 9
