"""The port the projection runner writes through, with its ClickHouse implementation."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Protocol

from clickhouse_connect.driver.client import Client

from domain.log import LoggedEvent
from projections.clickhouse import query_text
from projections.rows import EVENT_COLUMNS, event_rows

SpanKey = tuple[str, str, str]

_NEW_SPAN_ORDER = query_text("new_span_order")
_TRACK = (
    "INSERT INTO tracking (projection_name, position) VALUES ({name:String}, {position:UInt64})"
)


class ProjectionStore(Protocol):
    """Where a projection keeps what it built from the log, and how far it got.

    `apply` must be effectively once: applying a batch again, or a batch cut off by a crash
    and then applied whole, leaves every answer as if it had been applied once. It records
    the batch's last position only after the batch's data.

        >>> store.apply(log.read(after=store.position(), limit=5000))   # doctest: +SKIP
    """

    def position(self) -> int: ...

    def apply(self, events: Sequence[LoggedEvent]) -> None: ...


class ClickHouseStore:
    """The span and status projections in ClickHouse (tables in clickhouse/migrations)."""

    name = "executions"

    def __init__(self, client: Client, known_spans_cache: int = 1_000_000) -> None:
        self._client = client
        # Spans known to have their `span_order` row, so most batches run no statement for it.
        self._known: OrderedDict[SpanKey, None] = OrderedDict()
        self._cache_size = known_spans_cache

    def position(self) -> int:
        """The last log position applied (0 before the first batch)."""
        result = self._client.query(
            "SELECT max(position) FROM tracking WHERE projection_name = {name:String}",
            parameters={"name": self.name},
        )
        return int(result.result_rows[0][0] or 0)

    def apply(self, events: Sequence[LoggedEvent]) -> None:
        """Events first (the MVs fold spans and summaries), then new spans' order, then tracking."""
        if not events:
            return
        rows = event_rows(events)
        self._client.insert(
            "events", rows.columns, column_names=EVENT_COLUMNS, column_oriented=True
        )
        self._order_new_spans(rows.spans, events[0].position, events[-1].position)
        self._track(events[-1].position)

    def _track(self, position: int) -> None:
        # One row: a statement costs less than `insert`, which goes through a temporary file.
        self._client.command(_TRACK, parameters={"name": self.name, "position": position})

    def _order_new_spans(self, spans: Iterable[SpanKey], first: int, last: int) -> None:
        unknown = [key for key in spans if key not in self._known]
        if unknown:
            # span_order itself is the authority on what was written: after a crash between the
            # events and this insert, the replayed batch finds the spans still missing here.
            self._client.command(
                _NEW_SPAN_ORDER,
                parameters={
                    "workspace_ids": list({ws for ws, _, _ in unknown}),
                    "execution_ids": list({ex for _, ex, _ in unknown}),
                    "first": first,
                    "last": last,
                },
            )
        for key in unknown:
            self._known[key] = None
        while len(self._known) > self._cache_size:
            self._known.popitem(last=False)
