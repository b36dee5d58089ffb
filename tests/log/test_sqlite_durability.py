"""The embedded log acknowledges only what survives a power cut."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from domain.log.ledger import Ledger


def test_the_sqlite_log_commits_through_a_synced_write_ahead_log(tmp_path: Path) -> None:
    ledger = Ledger(Settings.from_env({"RUNLEDGER_DATA_DIR": str(tmp_path)}).log_env)
    try:
        with ledger.recorder.datastore.transaction(commit=False) as cursor:  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode")
            journal_mode = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            synchronous = cursor.fetchone()[0]
    finally:
        ledger.close()
    assert journal_mode == "wal"
    # 2 is FULL: the WAL is fsynced at every commit, before the API acknowledges.
    assert synchronous == 2
