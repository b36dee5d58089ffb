"""What Velt's and Datalab's views must say of an execution, folded in Python from its events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.events import Event

SPAN_PARENTS = {"WORKFLOW", "WORKFLOW_NODE"}


@dataclass
class ExpectedSpan:
    """One span as its events tell it."""

    span_id: str
    kind: str
    parent: str | None = None
    name: str = ""
    definition_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    status: str = "RUNNING"
    outputs: Any = None
    error: Any = None


def expected_spans(events: list[Event]) -> list[ExpectedSpan]:
    """Every span, in the order its first event comes (the order the log holds them in)."""
    spans: dict[str, ExpectedSpan] = {}
    for event in events:
        kind = "workflow" if event["name"].startswith("workflow.") else "node"
        span = spans.setdefault(event["span_id"], ExpectedSpan(event["span_id"], kind))
        parent = event.get("parent")
        if parent and parent["type"] in SPAN_PARENTS:
            span.parent = parent["span_id"]
        body = event.get("body") or {}
        definition = body.get(f"{kind}_definition") or {}
        span.name = definition.get("name", span.name)
        span.definition_id = definition.get("id", span.definition_id)
        moment = datetime.fromisoformat(event["timestamp"])
        if event["name"].endswith(".initiated") and span.start is None:
            span.start = moment
        if event["name"].endswith((".fulfilled", ".rejected")) and span.end is None:
            span.end = moment
            span.status = "FULFILLED" if event["name"].endswith(".fulfilled") else "REJECTED"
            span.outputs = body.get("outputs")
            span.error = body.get("error")
    return list(spans.values())


def epoch_ms(moment: datetime | None) -> int | None:
    return round(moment.timestamp() * 1000) if moment is not None else None


def naive_utc(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() if moment else None
