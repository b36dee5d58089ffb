"""The SQLite backend of the log: eventsourcing's recorder, plus insert-only-new."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore


class SQLiteLedgerRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite application recorder that skips events it already holds.

    Durability: eventsourcing opens the file in WAL mode and SQLite's default synchronous=FULL
    fsyncs the WAL at every commit, so a returned insert survives a power cut.
    """

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        # The table name comes from eventsourcing's configuration, never from a request.
        self._insert_new_statement = (
            f"INSERT INTO {self.events_table_name} "  # noqa: S608
            "(originator_id, originator_version, topic, state) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING RETURNING rowid"
        )

    def insert_new_events(self, stored_events: Sequence[StoredEvent]) -> list[int | None]:
        """Insert the events not yet stored, in one transaction; None marks a duplicate."""
        positions: list[int | None] = []
        with self.datastore.transaction(commit=True) as cursor:
            for event in stored_events:
                originator_id = event.originator_id
                cursor.execute(
                    self._insert_new_statement,
                    (
                        originator_id.hex if isinstance(originator_id, UUID) else originator_id,
                        event.originator_version,
                        event.topic,
                        event.state,
                    ),
                )
                row = cursor.fetchone()
                positions.append(None if row is None else int(row[0]))
        return positions
