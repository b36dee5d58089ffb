"""Velt's `ExecutionView` (seeds/003): an execution and the view-model of each of its steps.

Where Velt's page is silent, the choices are the README's ("Velt's execution read"):
- status: PENDING (a run waiting for a worker) is `queued`; INITIATED and STREAMING (and a run
  a worker took whose events are not visible yet) `running`; FULFILLED `completed`; REJECTED
  `failed`, or `cancelled` when its error code is WORKFLOW_CANCELLED.
- `completedAt` is when the execution ended, however it ended; `cancelledAt` is that same
  moment for a cancelled one, and null otherwise.
- `definitionId` is the deployment's name for a deployed execution, else the workflow's;
  `definitionVersion` the release's version number (null when unknown here).
- `idempotencyKey` is the execution's `external_id` (the key execute-workflow deduplicates
  on); `correlationId` the string under `correlation_id` (or `correlationId`) in its metadata.
- a step is a node span: `stepId` its span id, `nodeId` its node definition's id, `nodeType`
  its node definition's name (the node's class), `groupId` the span it runs inside when that
  is not the execution itself (an inline or deployed sub-workflow's span, a map iteration's,
  or a parent node's), `output` its outputs, `error` its error; a step is `cancelled` when
  its error code is WORKFLOW_CANCELLED or NODE_CANCELLED (the SDK stopped it: a sibling
  failed, or the workflow timed out or was cancelled).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from api.payload_urls import OutputUrl
from domain.payload_links import PayloadValue
from projections.detail import DetailPage, SpanView
from projections.origin import Origin
from projections.views import ExecutionView, PendingDetail

# An execution is cancelled when its own error says so; a step also when the SDK stopped it
# (NODE_CANCELLED: a sibling failed, or the workflow timed out or was cancelled).
CANCELLED_CODE = "WORKFLOW_CANCELLED"
STEP_CANCELLED_CODES = frozenset({CANCELLED_CODE, "NODE_CANCELLED"})
_NODE_SPAN = "node.execution"


def epoch_ms(moment: datetime | None) -> int | None:
    """Milliseconds since the epoch, as Velt writes every time."""
    return round(moment.timestamp() * 1000) if moment is not None else None


def execution_status(view: ExecutionView) -> str:
    """Velt's lowercase status word for the execution (see the module docstring)."""
    page = view.page
    if isinstance(page, PendingDetail):
        return "running" if page.run.started else "queued"
    status = page.summary.status.value
    if status == "FULFILLED":
        return "completed"
    if status == "REJECTED":
        code = (page.summary.error or {}).get("code")
        return "cancelled" if code == CANCELLED_CODE else "failed"
    return "running"


def result_json(
    view: ExecutionView, next_cursor: str | None, output_url: OutputUrl | None = None
) -> dict[str, Any]:
    """`{"result": ExecutionView}` for one page of steps, with Runledger's `nextStepCursor`;
    given `output_url`, each completed step links to its outputs (`outputUrl`) instead of
    carrying them."""
    page, origin = view.page, view.origin
    status = execution_status(view)
    started: datetime | None
    ended: datetime | None = None
    failure: str | None = None
    steps: list[dict[str, Any]] = []
    if isinstance(page, PendingDetail):
        # A worker's start once it took the run; its request while it waits.
        started = page.run.started_at or page.run.requested_at
    else:
        root = page.root
        started = (root.start_ts if root else None) or page.summary.started_at
        if status in ("completed", "failed", "cancelled"):
            ended = (root.end_ts if root else None) or page.summary.last_event_at
        if page.summary.error is not None:
            failure = page.summary.error.get("message")
        steps = [
            step_json(span, page, output_url) for span in page.spans if span.kind == _NODE_SPAN
        ]
    return {
        "result": {
            "executionId": str(view.execution_id),
            "status": status,
            "startedAt": epoch_ms(started),
            "completedAt": epoch_ms(ended),
            "cancelledAt": epoch_ms(ended) if status == "cancelled" else None,
            "definitionId": origin.deployment or origin.workflow,
            "definitionVersion": origin.release_version,
            "correlationId": correlation_id(origin),
            "idempotencyKey": origin.external_id,
            "failureReason": failure,
            "steps": steps,
            "nextStepCursor": next_cursor,
        }
    }


def correlation_id(origin: Origin) -> str | None:
    """The string under `correlation_id` (or `correlationId`) in the execution's metadata."""
    metadata = origin.metadata or {}
    for key in ("correlation_id", "correlationId"):
        value = metadata.get(key)
        if isinstance(value, str):
            return value
    return None


def step_json(span: SpanView, page: DetailPage, output_url: OutputUrl | None) -> dict[str, Any]:
    """One node span as a Velt step (with `outputUrl` in place of its output if linked)."""
    group = span.parent_span_id
    status = _step_status(span)
    step = {
        "stepId": str(span.span_id),
        "nodeId": span.definition_id or None,
        "nodeType": span.label or None,
        "status": status,
        "groupId": str(group) if group is not None and group != page.summary.execution_id else None,
        "startedAt": epoch_ms(span.start_ts or span.first_ts),
        "completedAt": epoch_ms(span.end_ts) if status != "running" else None,
        "output": _object(span.outputs) if status == "completed" else None,
        "error": _object(span.error) if status in ("failed", "cancelled") else None,
    }
    if output_url is not None:
        linked = status == "completed"
        step["outputUrl"] = output_url(span.span_id, PayloadValue.OUTPUTS) if linked else None
    return step


def _step_status(span: SpanView) -> str:
    if span.status == "FULFILLED":
        return "completed"
    if span.status == "REJECTED":
        return "cancelled" if error_code(span.error) in STEP_CANCELLED_CODES else "failed"
    return "running"


def error_code(raw: str) -> str | None:
    """The `code` of a stored error object, if it has a string one."""
    try:
        error = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _object(raw: str) -> Any:
    # A stored payload is JSON the ingest validated; an empty one is a span that has none.
    if not raw:
        return None
    try:
        return orjson.Fragment(raw) if raw[:1] in ("{", "[") else orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
