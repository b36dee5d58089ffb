"""The SQLite backend of the log: eventsourcing's recorder, plus insert-only-new and the hash
chain (domain/log/chain.py) committed with every insert."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

from domain.log.chain import GENESIS, Block, block_of
from domain.log.chained import ChainedInserts


class SQLiteLedgerRecorder(ChainedInserts, SQLiteApplicationRecorder):
    """eventsourcing's SQLite application recorder that skips events it already holds and
    chains what it inserts.

    Durability: eventsourcing opens the file in WAL mode and SQLite's default synchronous=FULL
    fsyncs the WAL at every commit, so a returned insert survives a power cut.
    """

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        self.chain_table_name = f"{events_table_name}_chain"
        super().__init__(datastore, events_table_name)
        # The table names come from eventsourcing's configuration, never from a request.
        self._insert_new_statement = (
            f"INSERT INTO {self.events_table_name} "  # noqa: S608
            "(originator_id, originator_version, topic, state) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING RETURNING rowid"
        )
        chain = self.chain_table_name
        self._last_link_statement = (
            f"SELECT link, last_position FROM {chain} "  # noqa: S608
            "ORDER BY last_position DESC LIMIT 1"
        )
        self._insert_block_statement = (
            f"INSERT INTO {chain} "  # noqa: S608
            "(last_position, first_position, positions, digests, link) VALUES (?,?,?,?,?)"
        )
        self._blocks_statement = (
            f"SELECT positions, digests, link FROM {chain} "  # noqa: S608
            "WHERE last_position > ? ORDER BY last_position LIMIT ?"
        )
        self._unchained_statement = (
            f"SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.chain_table_name} ("
            "last_position INTEGER PRIMARY KEY, first_position INTEGER NOT NULL, "
            "positions BLOB NOT NULL, digests BLOB NOT NULL, link BLOB NOT NULL)",
        ]

    def _insert(self, stored_events: Sequence[StoredEvent], *, all_new: bool) -> list[int | None]:
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
            if all_new and None in positions:
                # Raised inside the transaction: nothing of it commits.
                raise IntegrityError("an aggregate event's version was already recorded")
            inserted = [(p, e) for p, e in zip(positions, stored_events, strict=True) if p]
            if inserted:
                self._chain(cursor, sorted(inserted, key=lambda pair: pair[0]))
        return positions

    def _chain(self, cursor: SQLiteCursor, records: list[tuple[int, StoredEvent]]) -> None:
        cursor.execute(self._last_link_statement)
        row = cursor.fetchone()
        block = block_of(GENESIS if row is None else bytes(row[0]), records)
        cursor.execute(
            self._insert_block_statement,
            (block.last_position, block.first_position, block.positions, block.digests, block.link),
        )

    def chain_upgrade(self, page: int) -> int:
        """Chain a log stored before it had a chain, once: only while the chain is empty,
        every record, in one write transaction (a crash leaves the chain empty, to be done
        at the next open). Once a chain exists nothing is chained here: a record without a
        block is one that somebody added. How many records were chained."""
        total, after = 0, 0
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(self._last_link_statement)
            if cursor.fetchone() is not None:
                return 0
            while True:
                cursor.execute(self._unchained_statement, (after, page))
                records = [
                    (
                        int(r[0]),
                        StoredEvent(
                            originator_id=r[1], originator_version=r[2], topic=r[3], state=r[4]
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
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._last_link_statement)
            row = cursor.fetchone()
        return (0, GENESIS) if row is None else (int(row[1]), bytes(row[0]))

    def chain_blocks(self, after: int, limit: int) -> list[Block]:
        """The chain's blocks whose last position is after `after`, in order."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._blocks_statement, (after, limit))
            return [Block(bytes(r[0]), bytes(r[1]), bytes(r[2])) for r in cursor.fetchall()]
