"""Read models in Vellum's wire shapes (vellum-ai's pydantic models are the contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from api.payload_urls import OutputUrl, link_json, linked_text
from domain.payload_links import PayloadValue
from domain.vellum_values import typed_outputs
from projections.detail import DetailPage, SpanView
from projections.payloads import parse_marker
from projections.unreadable import Unreadable
from projections.views import PendingDetail

DETAIL_JSON_OPTIONS = orjson.OPT_UTC_Z
"""How a detail body is dumped: its spans' ids and timestamps are left for orjson to write
(in C, a page of 1,000 spans has 4,000 of them), as `_iso` would: RFC 3339 with a `Z`."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _fragment(raw: str) -> orjson.Fragment | None:
    # Stored JSON goes out as it is: no parse and re-encode of payloads on the read path.
    return orjson.Fragment(raw) if raw else None


def _state(raw: str) -> orjson.Fragment | dict[str, Any] | None:
    # Vellum's `state` is an object; a snapshot's that is not one (logged before ingest required
    # it) goes out wrapped as `{"value": ...}`, as `GET /v1/workflows/{span_id}/state` answers.
    if not raw or raw.lstrip().startswith(("{", "null")):
        return _fragment(raw)
    return {"value": orjson.Fragment(raw)}


def span_json(
    span: SpanView, seen_at: datetime | None = None, links: OutputUrl | None = None
) -> dict[str, Any]:
    """A `WorkflowExecutionSpan` or `NodeExecutionSpan`, for `orjson.dumps` with
    `DETAIL_JSON_OPTIONS`. With `links`, a value the payload store holds is a link in its
    event (`{"payload_url", "bytes"}`) instead of the value.

    Vellum's models require `end_ts` even for a span still running; such a span carries the
    time of its latest event there, and Runledger's `status` field says RUNNING. A span known
    so far only by its snapshots (which `events` leaves out, times and all: a snapshot that
    arrived before the span's initiated event) carries `seen_at`, the execution's start.
    """
    id_field = "workflow_id" if span.kind == "workflow.execution" else "node_id"
    start = span.start_ts or span.first_ts or seen_at
    return {
        "name": span.kind,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "start_ts": start,
        "end_ts": span.end_ts or span.last_ts or start,
        "status": span.status,
        "attributes": {"label": span.label, id_field: span.definition_id},
        "events": [
            orjson.Fragment(linked_text(event, span.span_id, links) if links else event)
            for event in span.events
        ],
        "usage_result": _fragment(span.usage_result or ""),
    }


def detail_json(
    execution_id: str, page: DetailPage, number: int | None, links: OutputUrl | None = None
) -> dict[str, Any]:
    """A `WorkflowExecutionDetail` for one page, plus Runledger's `has_more` and the
    execution's `number` (api/execution_numbers.py). With `links` (the page read without
    `inline_values`), each value the payload store holds is a link: in the spans' events as
    `span_json` says, the execution's inputs or outputs as `[]` beside `inputs_url` or
    `outputs_url`, its state as `{"payload_url", "bytes"}`."""
    root, summary = page.root, page.summary
    start = (root.start_ts if root else None) or summary.started_at or summary.last_event_at
    ended = root is not None and root.status != "RUNNING"
    body = {
        "span_id": execution_id,
        "parent_context": _fragment(page.parent_context),
        "start": _iso(start),
        "end": _iso(root.end_ts) if ended and root else None,
        "inputs": typed_outputs(page.inputs or {}),
        "outputs": typed_outputs(page.outputs or {}),
        "error": page.error,
        "usage_results": [page.usage_total] if page.usage_total is not None else None,
        "spans": [span_json(span, start, links) for span in page.spans],
        "state": _state(page.state),
        "status": summary.status.value,
        "has_more": page.has_more,
        "number": number,
        **unreadable_json(page.unreadable),
    }
    if links is not None:
        body.update(_header_links(page, UUID(execution_id), links))
    return body


def _header_links(page: DetailPage, execution_id: UUID, links: OutputUrl) -> dict[str, Any]:
    """The header's values that the payload store holds, as links."""
    linked: dict[str, Any] = {}
    root = page.root
    for name, text, value in (
        ("inputs", root.inputs if root else "", PayloadValue.INPUTS),
        ("outputs", root.outputs if root else "", PayloadValue.OUTPUTS),
    ):
        if parse_marker(text) is not None:
            linked |= {name: [], f"{name}_url": links(execution_id, value)}
    state = parse_marker(page.state)
    if state is not None:
        linked["state"] = link_json(links(execution_id, PayloadValue.STATE), state.size)
    return linked


def unreadable_json(unreadable: list[Unreadable]) -> dict[str, Any]:
    """Runledger's `unreadable` list, present only when a stored value was left out."""
    return {"unreadable": [found.as_json() for found in unreadable]} if unreadable else {}


def pending_detail_json(pending: PendingDetail, number: int | None) -> dict[str, Any]:
    """The detail of a run the runtime accepted whose events are not visible yet: no spans."""
    run = pending.run
    return {
        "span_id": str(pending.execution_id),
        "parent_context": None,
        "start": _iso(run.requested_at),
        "end": None,
        "inputs": typed_outputs(run.inputs),
        "outputs": [],
        "error": None,
        "usage_results": None,
        "spans": [],
        "state": None,
        "status": "INITIATED" if run.started else "PENDING",
        "has_more": False,
        "number": number,
    }
