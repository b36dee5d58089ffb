"""The port the projection runner writes through, with its ClickHouse implementation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol
from uuid import UUID

import orjson
from clickhouse_connect.driver.client import Client

from domain.log import LoggedEvent, LoggedFact
from projections.clickhouse import query_text
from projections.facts import RUN_REQUESTED, fact_rows
from projections.payloads import (
    DEFAULT_INLINE_PAYLOAD_BYTES,
    PAYLOAD_COLUMNS,
    payload_rows,
    split_event,
)
from projections.rows import EVENT_COLUMN_NAMES, event_block

# The insert's settings, each where the server knows it (a server refuses a setting it does not
# know; strict block limits came with 26.4). Since then a profile that turns strict block
# limits on makes the server cut an insert's blocks at max_insert_block_size_rows and _bytes,
# one Native block included (measured in chDB 26.9: a 100-row block reached the views as 7-row
# blocks); the batch's `name` is String in the block and LowCardinality(String) in the table.
_INSERT_SETTINGS = {
    "use_strict_insert_block_limits": 0,
    "input_format_native_allow_types_conversion": 1,
}
FACTS_PROJECTION = "facts"
_INDEX_RUNS = query_text("index_runs")
_TRACK = (
    "INSERT INTO tracking (projection_name, position) VALUES ({name:String}, {position:UInt64})"
)


class ProjectionStore(Protocol):
    """Where a projection keeps what it built from the log, and how far it got.

    `apply` must be effectively once: applying a batch again, or a batch cut off by a crash
    and then applied whole, leaves every answer as if it had been applied once. It records
    the batch's last position only after the batch's data, and calls `readable` in between,
    as soon as reads see the batch (the position is for a restart; readers need not wait
    for it).

        >>> store.apply(log.read(after=store.position(), limit=5000))   # doctest: +SKIP
    """

    def position(self) -> int: ...

    def apply(
        self, events: Sequence[LoggedEvent], readable: Callable[[], None] = lambda: None
    ) -> None: ...

    def facts_position(self) -> int:
        """How far the aggregates' events (runs, actuals, deployments) have been folded."""
        ...

    def apply_facts(self, facts: Sequence[LoggedFact], through: int) -> None:
        """Fold the aggregates' events of positions up to `through`, then record `through`."""
        ...


class ClickHouseStore:
    """The span and status projections in ClickHouse (tables in clickhouse/migrations)."""

    name = "executions"

    def __init__(self, client: Client, inline_limit: int = DEFAULT_INLINE_PAYLOAD_BYTES) -> None:
        self._client = client
        self._inline_limit = inline_limit
        known = client.server_settings
        self._settings = {k: v for k, v in _INSERT_SETTINGS.items() if k in known}

    def position(self) -> int:
        """The last log position applied (0 before the first batch)."""
        return self._tracked(self.name)

    def facts_position(self) -> int:
        """The last log position whose aggregate events were folded (projections/facts.py)."""
        return self._tracked(FACTS_PROJECTION)

    def _tracked(self, name: str) -> int:
        result = self._client.query(
            "SELECT max(position) FROM tracking WHERE projection_name = {name:String}",
            parameters={"name": name},
        )
        return int(result.result_rows[0][0] or 0)

    def apply_facts(self, facts: Sequence[LoggedFact], through: int) -> None:
        """Rows of runs, actuals and deployments (a few inserts; most batches have none),
        the list's rows of the runs requested, then the tracking row of `facts`."""
        for table, columns, rows in fact_rows(facts).tables():
            self._client.insert(table, rows, column_names=list(columns))
        requested = [fact.originator_id for fact in facts if fact.topic == RUN_REQUESTED]
        if requested:
            # From `runs` rather than from the facts: the row needs the deployment's name.
            self._client.command(_INDEX_RUNS, parameters={"execution_ids": requested})
        self._client.command(_TRACK, parameters={"name": FACTS_PROJECTION, "position": through})

    def apply(
        self, events: Sequence[LoggedEvent], readable: Callable[[], None] = lambda: None
    ) -> None:
        """Events (their views fold spans, keyset order and summaries), then the tracking row."""
        if not events:
            return
        # One Native block (projections/rows.py): the `span_detail` view looks up the positions
        # that earlier inserts wrote, but not reliably those written for an earlier block of the
        # same insert (the `span_order` view it replaced gave a 3,001-span execution inserted in
        # small blocks 3,003 rows). ClickHouse hands a block to the views whole unless strict
        # block limits are on, which the insert turns off (tests/projections/test_span_order.py
        # runs it under a profile that squashes nothing and cuts at 7 rows). clickhouse-connect's
        # `insert`, used until 2026-12-03, sent blocks of about 2 MB and needed settings that
        # squashed them into one.
        self.insert(event_block(events, self._set_aside(events)))
        # The insert returned after every view wrote its part: reads see the batch already.
        readable()
        self._track(events[-1].position)

    def _set_aside(self, events: Sequence[LoggedEvent]) -> list[bytes] | None:
        """The events' texts with their large values replaced by markers, after writing the
        values to the payload store (projections/payloads.py); None when no event is over the
        limit, which is one length test per event. The values go first: a marker any read
        finds names a stored row."""
        limit = self._inline_limit
        if all(len(event.raw) <= limit for event in events):
            return None
        texts, rows = [], []
        for event in events:
            split = split_event(event.raw, event.position, limit)
            texts.append(split.raw)
            if split.values:
                span_id = UUID(orjson.loads(event.raw)["span_id"])
                rows += payload_rows(
                    event.workspace_id, event.execution_id, span_id, event.position, split
                )
        if rows:
            self._client.insert("payload_values", rows, column_names=list(PAYLOAD_COLUMNS))
        return texts

    def insert(self, block: bytes) -> None:
        """One Native block of `events` rows (projections/rows.py), with the insert's settings."""
        self._client.raw_insert(
            "events", EVENT_COLUMN_NAMES, insert_block=block, fmt="Native", settings=self._settings
        )

    def _track(self, position: int) -> None:
        # One row: a statement costs less than `insert`, which goes through a temporary file.
        self._client.command(_TRACK, parameters={"name": self.name, "position": position})
