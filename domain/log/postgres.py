"""The PostgreSQL backend of the log: eventsourcing's recorder, plus insert-only-new."""

from __future__ import annotations

from collections.abc import Sequence

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier


class PostgresLedgerRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL application recorder that skips events it already holds.

    It keeps the library's `LOCK TABLE ... IN EXCLUSIVE MODE` per insert transaction: that
    makes notification ids commit in order, so a projection reading the log never passes a
    gap that a slower transaction fills later. Writers therefore serialise; batch them.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        # One array per column, sent in binary (the id type is "uuid" or "text", checked by
        # eventsourcing): psycopg dumps an array of the library's composite rows as text in
        # Python, escaping every byte of every state, which cost about 55 µs of the ingest
        # worker's CPU an event (bench/README.md); these arrays cost about 6.
        self._insert_new_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{originator_id_type}[], %b::bigint[], %b::text[], "
            "%b::bytea[]) "
            "ON CONFLICT DO NOTHING RETURNING originator_id, originator_version, notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            originator_id_type=SQL(self.datastore.originator_id_type),
        )

    # Retrying is safe because the insert is idempotent: if a commit went through but its
    # answer was lost with the connection, the retry reports those events as duplicates.
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_new_events(self, stored_events: Sequence[StoredEvent]) -> list[int | None]:
        """Insert the events not yet stored, in one transaction; None marks a duplicate."""
        if not stored_events:
            return []
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cursor:
            for statement in self.lock_table_statements:
                cursor.execute(statement, prepare=True)
            self._notify_channel(cursor)
            cursor.execute(self._insert_new_statement, columns, prepare=True)
            # Keyed by stream and version: an aggregate saved beside the events may bring two
            # versions of one stream in the same call.
            inserted = {
                (row["originator_id"], row["originator_version"]): int(row["notification_id"])
                for row in cursor.fetchall()
            }
        # pop: when one call holds the same key twice (a group commit of two requests), only
        # the first is new; the second is a duplicate, as it would be in a later call.
        return [inserted.pop((e.originator_id, e.originator_version), None) for e in stored_events]
