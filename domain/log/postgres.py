"""The PostgreSQL backend of the log: eventsourcing's recorder, plus insert-only-new and the
hash chain (domain/log/chain.py) committed with every insert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.sql import SQL, Composed, Identifier

from domain.log.chain import GENESIS, Block, block_of
from domain.log.chained import ChainedInserts


class PostgresLedgerRecorder(ChainedInserts, PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL application recorder that skips events it already holds.

    It keeps the library's `LOCK TABLE ... IN EXCLUSIVE MODE` per insert transaction: that
    makes notification ids commit in order, so a projection reading the log never passes a
    gap that a slower transaction fills later. Writers therefore serialise; batch them.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema, chain = Identifier(self.datastore.schema), Identifier(f"{events_table_name}_chain")

        def statement(text: str) -> Composed:
            return SQL(text).format(
                schema=schema, chain=chain, table=Identifier(self.events_table_name)
            )

        self._create_chain_statement = statement(
            "CREATE TABLE IF NOT EXISTS {schema}.{chain} (last_position bigint PRIMARY KEY, "
            "first_position bigint NOT NULL, positions bytea NOT NULL, digests bytea NOT NULL, "
            "link bytea NOT NULL)"
        )
        self._last_link_statement = statement(
            "SELECT link, last_position FROM {schema}.{chain} ORDER BY last_position DESC LIMIT 1"
        )
        self._insert_block_statement = statement(
            "INSERT INTO {schema}.{chain} (last_position, first_position, positions, digests, "
            "link) VALUES (%s, %s, %b, %b, %b)"
        )
        self._blocks_statement = statement(
            "SELECT positions, digests, link FROM {schema}.{chain} WHERE last_position > %s "
            "ORDER BY last_position LIMIT %s"
        )
        self._unchained_statement = statement(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        )
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
    def _insert(self, stored_events: Sequence[StoredEvent], *, all_new: bool) -> list[int | None]:
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
            # pop: when one call holds the same key twice (a group commit of two requests),
            # only the first is new; the second is a duplicate, as in a later call.
            positions = [
                inserted.pop((e.originator_id, e.originator_version), None) for e in stored_events
            ]
            if all_new and None in positions:
                # Raised inside the transaction: nothing of it commits.
                raise IntegrityError("an aggregate event's version was already recorded")
            new = sorted(
                ((p, e) for p, e in zip(positions, stored_events, strict=True) if p),
                key=lambda pair: pair[0],
            )
            if new:
                # Still under the table lock: no other writer can chain in between.
                self._chain(cursor, new)
        return positions

    def _create_table(self, curs: Cursor[Any]) -> None:
        super()._create_table(curs)
        curs.execute(self._create_chain_statement)

    def _chain(self, cursor: Cursor[Any], records: list[tuple[int, StoredEvent]]) -> None:
        cursor.execute(self._last_link_statement, prepare=True)
        row = cursor.fetchone()
        block = block_of(GENESIS if row is None else bytes(row["link"]), records)
        cursor.execute(
            self._insert_block_statement,
            (block.last_position, block.first_position, block.positions, block.digests, block.link),
            prepare=True,
        )

    def chain_upgrade(self, page: int) -> int:
        """Chain a log stored before it had a chain, once: only while the chain is empty,
        every record, in one transaction under the writers' table lock (a crash leaves the
        chain empty, to be done at the next open). Once a chain exists nothing is chained
        here: a record without a block is one that somebody added. How many were chained."""
        total, after = 0, 0
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.execute(self._last_link_statement)
            if cursor.fetchone() is not None:
                return 0
            for lock in self.lock_table_statements:
                cursor.execute(lock)
            cursor.execute(self._last_link_statement)  # under the lock: another may have chained
            if cursor.fetchone() is not None:
                return 0
            while True:
                cursor.execute(self._unchained_statement, (after, page))
                records = [
                    (
                        int(r["notification_id"]),
                        StoredEvent(
                            originator_id=r["originator_id"],
                            originator_version=r["originator_version"],
                            topic=r["topic"],
                            state=bytes(r["state"]),
                        ),
                    )
                    for r in cursor.fetchall()
                ]
                if not records:
                    return total
                self._chain(cursor, records)
                total, after = total + len(records), records[-1][0]

    def chain_head(self) -> tuple[int, bytes]:
        """The last chained position and the link after it ((0, GENESIS) for an empty log)."""
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._last_link_statement)
            row = cursor.fetchone()
        return (0, GENESIS) if row is None else (int(row["last_position"]), bytes(row["link"]))

    def chain_blocks(self, after: int, limit: int) -> list[Block]:
        """The chain's blocks whose last position is after `after`, in order."""
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self._blocks_statement, (after, limit))
            return [
                Block(bytes(r["positions"]), bytes(r["digests"]), bytes(r["link"]))
                for r in cursor.fetchall()
            ]
