"""Execution detail with keyset span paging (DESIGN.md §4).

Spans are ordered by the log position where each was first seen: a key the projection runner
writes once and that later spans only extend. A page is a primary-key range read after the
cursor's position, so its cost does not depend on its depth, and a walk sees every span once
even while the execution is still receiving events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client

from domain.errors import ExecutionNotFound, InvalidCursor
from projections.clickhouse import query_text
from projections.queries import ExecutionQueries, ExecutionStatusView, utc

_POSITION = query_text("span_position")
_PAGE = query_text("span_page")
_SPANS = query_text("spans_by_id")
_EVENTS = query_text("span_events")
_ROOT = query_text("execution_root")


@dataclass(frozen=True, slots=True)
class SpanView:
    """One span as the detail shows it; JSON parts stay the bytes that were sent."""

    span_id: UUID
    kind: str
    parent_span_id: UUID | None
    label: str
    definition_id: str
    start_ts: datetime | None
    end_ts: datetime | None
    status: str
    inputs: str
    outputs: str
    error: str
    events: list[bytes]
    first_ts: datetime | None
    last_ts: datetime | None


@dataclass(frozen=True, slots=True)
class DetailPage:
    """The execution's header and one page of its spans."""

    summary: ExecutionStatusView
    root: SpanView | None
    parent_context: str
    state: str
    spans: list[SpanView]
    has_more: bool


class ExecutionDetails:
    """Reads detail pages; give it a client of its own."""

    def __init__(self, client: Client, queries: ExecutionQueries) -> None:
        self._client = client
        self._queries = queries

    def page(
        self, workspace_id: UUID, execution_id: UUID, prev_span_id: UUID | None, limit: int
    ) -> DetailPage:
        """The spans after `prev_span_id` (exclusive), at most `limit` of them."""
        summary = self._queries.status(workspace_id, execution_id)
        if summary is None:
            raise ExecutionNotFound(execution_id)
        ids = {"workspace_id": workspace_id, "execution_id": execution_id}
        after = 0
        if prev_span_id is not None:
            found = self._client.query(
                _POSITION, parameters={**ids, "span_id": prev_span_id}
            ).result_rows
            if not found:
                raise InvalidCursor(
                    "prev_span_id", f"{prev_span_id} is not a span of execution {execution_id}"
                )
            after = int(found[0][0])
        rows = self._client.query(
            _PAGE, parameters={**ids, "after": after, "limit": limit + 1}
        ).result_rows
        page_ids = [row[0] for row in rows[:limit]]
        spans = self._spans(ids, [*page_ids, execution_id])
        parent_context, state = self._client.query(_ROOT, parameters=ids).result_rows[0]
        return DetailPage(
            summary=summary,
            root=spans.get(execution_id),
            parent_context=parent_context,
            state=state,
            spans=[spans[span_id] for span_id in page_ids if span_id in spans],
            has_more=len(rows) > limit,
        )

    def _spans(self, ids: dict[str, Any], span_ids: list[UUID]) -> dict[UUID, SpanView]:
        parameters = {**ids, "span_ids": span_ids}
        events = {
            row[0]: row[1:]
            for row in self._client.query(_EVENTS, parameters=parameters).result_rows
        }
        result = self._client.query(_SPANS, parameters=parameters)
        views = {}
        for values in result.result_rows:
            row = dict(zip(result.column_names, values, strict=True))
            first_ts, last_ts, payloads = events.get(row["span_id"], (None, None, []))
            views[row["span_id"]] = SpanView(
                span_id=row["span_id"],
                kind=row["kind"],
                parent_span_id=row["parent_span_id"],
                label=row["label"],
                definition_id=row["definition_id"],
                start_ts=utc(row["start_ts"]),
                end_ts=utc(row["end_ts"]),
                status=row["status"] or "RUNNING",
                inputs=row["inputs"],
                outputs=row["outputs"],
                error=row["error"],
                events=[p if isinstance(p, bytes) else p.encode() for p in payloads],
                first_ts=utc(first_ts),
                last_ts=utc(last_ts),
            )
        return views
