"""Execution detail with keyset span paging (DESIGN.md §4).

Spans are ordered by the log position where each was first seen: a key the projection writes
once and that later spans only extend. `span_detail` holds each span's state and events sorted
by that key, so a page is one primary-key range read after the cursor's position, folded in
order and cut at the page's size; its cost does not depend on its depth, and a walk sees every
span once even while the execution is still receiving events.
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import orjson
from clickhouse_connect.driver.client import Client

from domain.errors import ExecutionNotFound, InvalidCursor
from domain.lifecycle import ExecutionStatus
from domain.usage import USAGE_COUNT_FIELDS
from projections.clickhouse import query_text
from projections.payloads import has_markers, inline
from projections.queries import (
    ExecutionRead,
    ExecutionStatusView,
    RunView,
    actuals_view,
    execution_header,
    run_view,
    status_view,
)
from projections.unreadable import (
    Unreadable,
    object_text,
    stored_object,
    usable_usage,
    workflow_error,
)

_POSITION = query_text("span_position")
_SPANS = query_text("span_detail")
_STEPS = query_text("span_steps")
_EVENT_TIMES = query_text("span_event_times")
_BYTES: dict[str, str | dict[str, str]] = {"events": "bytes"}
# An `after` no position passes: a read of the span at `root_position` alone.
_NO_PAGE = (1 << 64) - 1
_FINISHED = frozenset({ExecutionStatus.FULFILLED, ExecutionStatus.REJECTED})
# How many pages' last spans, and executions' first positions, a reader remembers (~1 MB each).
_REMEMBERED = 10_000
_MAX_TOTAL = 2**64 - 1  # the largest integer orjson writes


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
    usage_result: str | None = None


@dataclass(frozen=True, slots=True)
class DetailPage:
    """The execution's header and one page of its spans."""

    summary: ExecutionStatusView
    root: SpanView | None
    parent_context: str
    state: str
    spans: list[SpanView]
    has_more: bool
    usage_total: dict[str, Any] | None
    """The usage of the whole execution, not only of this page's spans."""
    inputs: dict[str, Any] | None = None
    """The root span's inputs, outputs and (when it was rejected) error, parsed."""
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    unreadable: list[Unreadable] = field(default_factory=list)
    """Stored values left out because the page's shape cannot hold them."""
    run: RunView | None = None
    """The runtime's record of the execution, when it made it."""
    actuals: list[dict[str, Any]] | None = None
    """The newest actual per output, when any was submitted."""
    listed_position: int | None = None
    """Where the execution was listed, its id as an integer (migration 0014); None until
    it is listed."""

    @property
    def read(self) -> ExecutionRead:
        """The page's header as a status read sees it."""
        return ExecutionRead(self.summary, self.run, self.actuals)


class ExecutionDetails:
    """Reads detail pages; give it a client of its own, and a second one for the header.

    A page is two reads that need nothing of each other once the execution's first position
    is known: its header (summary, root context and state, usage) and its spans. With a
    `header_client` they run at once, each on its own client (calls on one client serialise),
    and a page waits for the slower of them instead of both: in chDB, 7-12 ms of a 15-40 ms
    page (bench/README.md).
    """

    def __init__(self, client: Client, header_client: Client | None = None) -> None:
        self._client = client
        self._header_client = header_client
        self._headers = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="detail-header")
            if header_client is not None
            else None
        )
        # The keyset position of the last span of each page served, by (workspace, execution,
        # span): the `prev_span_id` a client walking the spans sends next, or polls with while
        # the execution runs. A span's position never changes once written (DESIGN.md §4), so
        # such a page skips the statement that finds it (a point read of 3-7 ms in chDB).
        self._cursors: _Remembered[tuple[UUID, UUID, UUID]] = _Remembered(_REMEMBERED)
        # Each execution's first log position (where its root span sits as a rule), which no
        # later event changes: a page whose cursor is known need not wait for the header.
        self._first_positions: _Remembered[tuple[UUID, UUID]] = _Remembered(_REMEMBERED)

    def close(self) -> None:
        """Stop the header's thread (the clients are the caller's to close)."""
        if self._headers is not None:
            self._headers.shutdown(wait=True)

    def page(
        self,
        workspace_id: UUID,
        execution_id: UUID,
        prev_span_id: UUID | None,
        limit: int,
        *,
        values: bool = True,
        inline_values: bool = True,
    ) -> DetailPage:
        """The spans after `prev_span_id` (exclusive), at most `limit` of them; without their
        inputs, outputs and events unless `values` (span_steps.sql). Values the payload store
        holds are put back in unless not `inline_values`: then their markers stay, for a reader
        that links to them (projections/payloads.py)."""
        ids = {"workspace_id": workspace_id, "execution_id": execution_id}
        inline_values = values and inline_values
        header_of = functools.partial(
            execution_header,
            self._header_client or self._client,
            workspace_id,
            execution_id,
            inline_values=inline_values,
        )
        header: Future[dict[str, Any]]
        if self._headers is not None:
            header = self._headers.submit(header_of)
        else:  # one client: the header first, so an unknown execution costs no more statements
            header = Future()
            header.set_result(header_of())

        @functools.cache
        def summary_or_raise() -> ExecutionStatusView:
            found = status_view(execution_id, header.result())
            if found is None:
                raise ExecutionNotFound(execution_id)
            return found

        if self._headers is None:
            summary_or_raise()
        try:
            after = 0
            if prev_span_id is not None:
                found = self._cursor_position(ids, prev_span_id)
                if found is None:
                    raise InvalidCursor(
                        "prev_span_id", f"{prev_span_id} is not a span of execution {execution_id}"
                    )
                after = found
            # With no cursor the root is among the rows after 0 whatever its position.
            root_position = (
                0 if after == 0 else self._first_positions.get((workspace_id, execution_id))
            )
            if root_position is None:
                root_position = summary_or_raise().first_position
            # One row more than the page tells whether there is more; one more again makes room
            # for the root's row when it sits before the cursor.
            rows = self._spans(
                ids, after, root_position, limit + 2, values=values, inline_values=inline_values
            )
        except Exception:
            summary_or_raise()  # an unknown execution says so before any other error
            raise
        summary = summary_or_raise()
        root = next((span for _, span in rows if span.span_id == execution_id), None)
        if summary.status in _FINISHED and (root is None or root.status == "RUNNING"):
            # The spans may have been read before the batch that finished the execution, and
            # the header after it: a client that sees a finished status stops polling, so it
            # must get the spans as of that batch. The root's own terminal event is that
            # batch's (only the root decides the outcome), so a finished root among the rows
            # proves them fresh; otherwise read them again, now after the header.
            rows = self._spans(
                ids, after, root_position, limit + 2, values=values, inline_values=inline_values
            )
            root = next((span for _, span in rows if span.span_id == execution_id), None)
        self._first_positions.put((workspace_id, execution_id), summary.first_position)
        usage, unreadable = usable_usage(dict(header.result()["usage_rows"]))
        after_cursor = [(position, span) for position, span in rows if position > after]
        if page_rows := after_cursor[:limit]:
            last_position, last = page_rows[-1]
            self._cursors.put((workspace_id, execution_id, last.span_id), last_position)
        if root is None:
            root = self._root_elsewhere(ids, execution_id, inline_values)
        rejected = root is not None and root.status == "REJECTED"
        run = run_view(workspace_id, header.result())
        return DetailPage(
            summary=summary,
            root=_with_usage(root, usage) if root is not None else None,
            parent_context=object_text(
                header.result()["parent_context"], "parent_context", unreadable
            ),
            state=header.result()["state"],
            spans=[_with_usage(span, usage) for _, span in page_rows],
            has_more=len(after_cursor) > limit,
            usage_total=usage_total(usage.values()),
            inputs=stored_object(root.inputs, "inputs", unreadable) if root else None,
            outputs=stored_object(root.outputs, "outputs", unreadable) if root else None,
            error=workflow_error(root.error, "error", unreadable) if root and rejected else None,
            unreadable=unreadable,
            run=run,
            actuals=actuals_view(header.result()),
            listed_position=listed_position(run, header.result()["initiated_position"]),
        )

    def _cursor_position(self, ids: dict[str, Any], span_id: UUID) -> int | None:
        """`_position`, answered from the pages served when the span ended one of them."""
        key = (ids["workspace_id"], ids["execution_id"], span_id)
        position = self._cursors.get(key)
        return position if position is not None else self._position(ids, span_id)

    def _position(self, ids: dict[str, Any], span_id: UUID) -> int | None:
        """The span's keyset position, or None when it is not a span of the execution."""
        found = self._client.query(_POSITION, parameters={**ids, "span_id": span_id}).result_rows
        return int(found[0][0]) if found else None

    def _root_elsewhere(
        self, ids: dict[str, Any], execution_id: UUID, inline_values: bool
    ) -> SpanView | None:
        # The root's first event was not the execution's first (a node's was logged before the
        # workflow's initiated): two more statements, for such executions only.
        return self._span(ids, execution_id, inline_values)

    def span(self, workspace_id: UUID, execution_id: UUID, span_id: UUID) -> SpanView | None:
        """One span of the execution, with its values and events; None if it has none such."""
        return self._span({"workspace_id": workspace_id, "execution_id": execution_id}, span_id)

    def _span(
        self, ids: dict[str, Any], span_id: UUID, inline_values: bool = True
    ) -> SpanView | None:
        position = self._position(ids, span_id)
        if position is None:
            return None
        rows = self._spans(ids, _NO_PAGE, position, 1, inline_values=inline_values)
        return rows[0][1] if rows and rows[0][1].span_id == span_id else None

    def _spans(
        self,
        ids: dict[str, Any],
        after: int,
        root_position: int,
        limit: int,
        *,
        values: bool = True,
        inline_values: bool = True,
    ) -> list[tuple[int, SpanView]]:
        """(keyset position, span) in keyset order: those after `after` and the one at
        `root_position`, `limit` at most; with their values and events if `values`, whole
        unless not `inline_values`."""
        parameters = {**ids, "after": after, "root_position": root_position, "limit": limit}
        # Payloads stay the bytes ClickHouse holds (no decode, no encode: they go out as JSON
        # fragments), and timestamps come zone-aware: no per-value work here.
        result = self._client.query(
            _SPANS if values else _STEPS,
            parameters=parameters,
            column_formats=_BYTES,
            tz_mode="aware",
        )
        views = []
        for (  # span_detail.sql's columns, in its order
            position,
            span_id,
            kind,
            parent_span_id,
            label,
            definition_id,
            start_ts,
            end_ts,
            status,
            inputs,
            outputs,
            error,
            events,
            first_ts,
            last_ts,
        ) in result.result_rows:
            view = SpanView(
                span_id=span_id,
                kind=kind,
                parent_span_id=parent_span_id,
                label=label,
                definition_id=definition_id,
                start_ts=start_ts,
                end_ts=end_ts,
                status=status or "RUNNING",
                inputs=inputs,
                outputs=outputs,
                error=error,
                events=events,
                first_ts=first_ts,
                last_ts=last_ts,
            )
            views.append((int(position), view))
        unstarted = [view.span_id for _, view in views if view.start_ts is None]
        if not values and unstarted:
            return self._with_event_times(ids, views, unstarted)
        if values and inline_values:
            return self._with_stored_values(ids, views)
        return views

    def _with_stored_values(
        self, ids: dict[str, Any], views: list[tuple[int, SpanView]]
    ) -> list[tuple[int, SpanView]]:
        # Values the payload store holds, put back into the spans and their events: one more
        # statement, for the pages that have any (projections/payloads.py).
        marked = [
            index
            for index, (_, view) in enumerate(views)
            if has_markers(view.inputs)
            or has_markers(view.outputs)
            or any(has_markers(event) for event in view.events)
        ]
        if not marked:
            return views
        texts: list[bytes] = []
        for index in marked:
            view = views[index][1]
            texts += [view.inputs.encode(), view.outputs.encode(), *view.events]
        texts = inline(self._client, ids["workspace_id"], ids["execution_id"], texts)
        out = list(views)
        for index in marked:
            position, view = out[index]
            count = 2 + len(view.events)
            inputs, outputs, *events = texts[:count]
            texts = texts[count:]
            out[index] = (
                position,
                replace(view, inputs=inputs.decode(), outputs=outputs.decode(), events=events),
            )
        return out

    def _with_event_times(
        self, ids: dict[str, Any], views: list[tuple[int, SpanView]], span_ids: list[UUID]
    ) -> list[tuple[int, SpanView]]:
        # Spans seen before their initiated event: their first and last events' times, which a
        # page without values does not read (span_event_times.sql).
        result = self._client.query(
            _EVENT_TIMES, parameters={**ids, "span_ids": span_ids}, tz_mode="aware"
        )
        times = {span_id: (first, last) for span_id, first, last in result.result_rows}
        return [
            (
                position,
                replace(view, first_ts=times[view.span_id][0], last_ts=times[view.span_id][1]),
            )
            if view.span_id in times
            else (position, view)
            for position, view in views
        ]


def listed_position(run: RunView | None, initiated_position: int | None) -> int | None:
    """Where an execution was listed (migration 0014): its run request's position, or else
    its root span's first initiated event's."""
    if run is not None and run.requested_position is not None:
        return run.requested_position
    return int(initiated_position) if initiated_position is not None else None


def _with_usage(span: SpanView, usage: dict[UUID, str]) -> SpanView:
    # The header's usage rows are few (spans that reported usage): most spans pass unchanged.
    found = usage.get(span.span_id)
    return span if found is None else replace(span, usage_result=found)


_Key = TypeVar("_Key", bound=Hashable)


class _Remembered(Generic[_Key]):
    """A bounded map of keys to positions, least recently used out first; thread-safe."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[_Key, int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _Key) -> int | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: _Key, position: int) -> None:
        with self._lock:
            self._items[key] = position
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def _total(counts: list[int]) -> int | None:
    # Each count is at most 2**53 - 1 (checked at ingest), so only an execution of thousands of
    # such spans passes 64 bits, which JSON writers refuse: such a total is unknown (null).
    total = sum(counts)
    return total if total <= _MAX_TOTAL else None


def usage_total(usage_results: Iterable[str]) -> dict[str, Any] | None:
    """Spans' `usage_result`s as one `WorkflowExecutionUsageResult`; None when there are none.

    Each result is one ingest accepted (`usable_usage` leaves out any other the log holds).
    Usage is summed per `ml_model_name` (each count field on its own), cost per unit. The sum
    is taken here, over span_usage's one deduplicated row per span, and never in SQL over raw
    events: a redelivered or replayed event is another `events` row and would count twice.
    Cost uses `math.fsum`, so the total does not depend on the rows' order.
    """
    results = [orjson.loads(raw) for raw in usage_results]
    if not results:
        return None
    counts: dict[str, dict[str, list[int]]] = {}
    costs: dict[str, list[float]] = {}
    for result in results:
        for entry in result["usage"]:
            model = counts.setdefault(entry["ml_model_name"], {})
            for name, value in entry["ml_model_usage"].items():
                if isinstance(value, int) and not isinstance(value, bool):
                    model.setdefault(name, []).append(value)
        for price in result["cost"]:
            costs.setdefault(str(price.get("unit") or "USD"), []).append(price["value"])
    return {
        "usage": [
            {
                "ml_model_name": name,
                "ml_model_usage": {
                    field: _total(model[field]) if field in model else None
                    for field in [*USAGE_COUNT_FIELDS, *sorted(model.keys() - USAGE_COUNT_FIELDS)]
                },
            }
            for name, model in sorted(counts.items())
        ],
        # Each cost is at most 1e15 (checked at ingest and by `usable_usage`): no sum overflows.
        "cost": [
            {"value": math.fsum(values), "unit": unit} for unit, values in sorted(costs.items())
        ],
    }
