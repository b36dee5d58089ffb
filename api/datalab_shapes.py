"""Datalab's execution status (seeds/004): the execution by its number, its steps by name.

Where Datalab's page is silent, the choices are the README's ("Datalab's execution status"):
- `execution_id` is the execution's number (migration 0014); `workflow_id` a stable 53-bit
  integer derived from the deployment's id, or for an execution no deployment ran from its
  workflow definition's id (its name when it has none): the same in every instance.
- status: a run waiting for a worker is QUEUED; a run a worker took whose events are not
  visible yet PENDING; INITIATED and STREAMING are IN_PROGRESS; FULFILLED COMPLETED;
  REJECTED (a cancelled execution included) FAILED.
- `created` is when the execution was requested (a run) or started; `updated` when its latest
  event happened. Times are UTC, written without a zone as the page writes them.
- `steps` holds every node span, keyed by its node's name; in the order the spans reached the
  log, the first of a name keeps it and each later one is `name[2]`, `name[3]`, ... (a map's
  iterations, a loop's rounds), so a key names the same step in every poll. A step is
  IN_PROGRESS, COMPLETED or FAILED; one that has not started is not listed, since the graph is
  not known here. A finished step's `output_url` links to its outputs (its error when it
  failed) through `GET /v1/payloads/{token}`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from api.payload_urls import OutputUrl
from domain.payload_links import PayloadValue
from projections.detail import DetailPage, SpanView
from projections.origin import Origin
from projections.views import ExecutionView, PendingDetail

_NODE_SPAN = "node.execution"
_STEP_STATUS = {"FULFILLED": "COMPLETED", "REJECTED": "FAILED"}
_STATUS = {
    "INITIATED": "IN_PROGRESS",
    "STREAMING": "IN_PROGRESS",
    "FULFILLED": "COMPLETED",
    "REJECTED": "FAILED",
}


def naive_utc(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC without a zone, as Datalab's page writes times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


def workflow_number(origin: Origin, definition_id: str, execution_id: UUID) -> int:
    """The integer id of what the execution ran: its deployment, or else its workflow; an
    execution whose root names neither (an initiated event without `workflow_definition`)
    is a workflow of its own."""
    if origin.deployment_id is not None:
        source = f"deployment:{origin.deployment_id}"
    elif origin.deployment:
        source = f"deployment:{origin.deployment}"
    elif definition_id or origin.workflow:
        source = f"workflow:{definition_id or origin.workflow}"
    else:
        source = f"execution:{execution_id}"
    digest = hashlib.blake2b(source.encode(), digest_size=8).digest()
    # 53 bits: every JSON reader (JavaScript's numbers included) reads it exactly; never 0.
    return (int.from_bytes(digest, "big") >> 11) or 1


def execution_status(page: DetailPage | PendingDetail) -> str:
    """Datalab's status word for the execution (see the module docstring)."""
    if isinstance(page, PendingDetail):
        return "PENDING" if page.run.started else "QUEUED"
    return _STATUS[page.summary.status.value]


def status_json(
    view: ExecutionView, number: int, spans: Iterable[SpanView], output_url: OutputUrl
) -> dict[str, Any]:
    """The answer of `GET /api/v1/workflows/executions/{execution_id}`, over every span."""
    page, origin = view.page, view.origin
    created: datetime | None
    updated: datetime | None
    if isinstance(page, PendingDetail):
        run = page.run
        created, updated, definition_id = run.requested_at, run.started_at, ""
    else:
        root = page.root
        created = (page.run.requested_at if page.run else None) or (
            (root.start_ts if root else None) or page.summary.started_at
        )
        updated = page.summary.last_event_at
        definition_id = root.definition_id if root else ""
    return {
        "execution_id": number,
        "workflow_id": workflow_number(origin, definition_id, view.execution_id),
        "status": execution_status(page),
        "created": naive_utc(created),
        "updated": naive_utc(updated or created),
        "steps": steps_json(spans, output_url),
    }


def steps_json(spans: Iterable[SpanView], output_url: OutputUrl) -> dict[str, Any]:
    """Every node span by its unique name, in the order the spans reached the log."""
    steps: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for span in spans:
        if span.kind != _NODE_SPAN:
            continue
        name = span.label or str(span.span_id)
        count = seen.get(name, 0)
        key = name
        while key in steps:
            count += 1
            key = f"{name}[{count}]"
        seen[name] = max(count, 1)
        steps[key] = _step_json(span, output_url)
    return steps


def _step_json(span: SpanView, output_url: OutputUrl) -> dict[str, Any]:
    status = _STEP_STATUS.get(span.status, "IN_PROGRESS")
    step: dict[str, Any] = {
        "status": status,
        "started_at": naive_utc(span.start_ts or span.first_ts),
    }
    if status != "IN_PROGRESS":
        step["completed_at"] = naive_utc(span.end_ts)
        # Linked without reading the value (span_steps.sql): a fulfilled span sent without
        # `outputs` has none, and its link answers `{}` (projections/views.py).
        value = PayloadValue.OUTPUTS if status == "COMPLETED" else PayloadValue.ERROR
        step["output_url"] = output_url(span.span_id, value)
    return step
