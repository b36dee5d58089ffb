"""Whole executions as a client would send them, with what a list must show for each.

`ingested` writes an execution's events (its root, a node per usage entry, its outcome), with a
deployment's parent context when asked; `listed_row` folds a list of events into the row the
list shows for it, in Python, independently of the projections: the reference the list tests
and the filter's property test compare the server's answers against.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

Event = dict[str, Any]
Usage = tuple[str, int, int, float]
"""A node's usage: model, input tokens, output tokens, cost in USD."""


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _event(name: str, execution_id: UUID, span_id: UUID, at: datetime, **body: Any) -> Event:
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "timestamp": _iso(at),
        "api_version": "2024-10-25",
        "trace_id": str(uuid.uuid5(execution_id, "trace")),
        "span_id": str(span_id),
        "parent": None,
        "links": None,
        "body": body,
    }


@dataclass(frozen=True)
class Deployed:
    """The deployment, release and tag an execution's parent context names (ids made up from
    the name unless given)."""

    name: str
    tag: str = "LATEST"
    deployment_id: UUID | None = None
    release_id: UUID | None = None

    def context(self, external_id: str | None, metadata: dict[str, Any] | None) -> Event:
        """Vellum's `WorkflowDeploymentParentContext`."""
        deployment_id = self.deployment_id or uuid.uuid5(uuid.NAMESPACE_DNS, self.name)
        release_id = self.release_id or uuid.uuid5(deployment_id, "release")
        return {
            "type": "WORKFLOW_RELEASE_TAG",
            "span_id": str(uuid.uuid4()),
            "parent": None,
            "deployment_id": str(deployment_id),
            "deployment_name": self.name,
            "deployment_history_item_id": str(release_id),
            "release_tag_id": str(uuid.uuid5(deployment_id, self.tag)),
            "release_tag_name": self.tag,
            "external_id": external_id,
            "metadata": metadata,
            "workflow_version_id": str(release_id),
        }


def ingested(
    started: datetime,
    workflow: str,
    outcome: str | None,
    *,
    deployment: Deployed | None = None,
    metadata: dict[str, Any] | None = None,
    usage: list[Usage] | None = None,
    duration: timedelta = timedelta(seconds=2),
    inputs: dict[str, Any] | None = None,
) -> tuple[UUID, list[Event]]:
    """An execution's events: its root, one node per usage entry, and its outcome (None: still
    running). With a deployment, its external id is `ext-<execution id>`."""
    execution_id = uuid.uuid4()
    definition = {"id": str(uuid.uuid4()), "name": workflow, "module": ["tests"]}
    root = _event("workflow.execution.initiated", execution_id, execution_id, started)
    root["body"] = {"workflow_definition": definition, "inputs": inputs or {}}
    if deployment is not None:
        root["parent"] = deployment.context(f"ext-{execution_id}", metadata)
    events = [root]
    context = {
        "type": "WORKFLOW",
        "span_id": str(execution_id),
        "workflow_definition": definition,
        "parent": root["parent"],
    }
    for n, (model, tokens_in, tokens_out, cost) in enumerate(usage or []):
        span = uuid.uuid4()
        node = {"id": str(uuid.uuid4()), "name": f"Node{n}", "module": ["tests"]}
        at = started + timedelta(milliseconds=10 * n + 1)
        first = _event("node.execution.initiated", execution_id, span, at, node_definition=node)
        usage_result = {
            "usage": [
                {
                    "ml_model_name": model,
                    "ml_model_usage": {
                        "input_token_count": tokens_in,
                        "output_token_count": tokens_out,
                    },
                }
            ],
            "cost": [{"value": cost, "unit": "USD"}],
        }
        done = _event(
            "node.execution.fulfilled",
            execution_id,
            span,
            at + timedelta(milliseconds=5),
            node_definition=node,
            outputs={},
            usage_result=usage_result,
        )
        first["parent"] = done["parent"] = context
        events += [first, done]
    end = started + duration
    if outcome == "FULFILLED":
        events.append(
            _event(
                "workflow.execution.fulfilled",
                execution_id,
                execution_id,
                end,
                workflow_definition=definition,
                outputs={"answer": 42},
            )
        )
    elif outcome == "REJECTED":
        error = {"message": f"{workflow} failed: rate limit", "code": "PROVIDER_ERROR"}
        events.append(
            _event(
                "workflow.execution.rejected",
                execution_id,
                execution_id,
                end,
                workflow_definition=definition,
                error=error,
            )
        )
    return execution_id, events


def _time(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def listed_row(events: list[Event]) -> dict[str, Any]:
    """The list's row of one execution's events (execution_rows.sql's columns, Python types),
    for an execution none of whose events repeat a span's terminal event."""
    root = next(e for e in events if e["name"] == "workflow.execution.initiated")
    parent = root["parent"] or {}
    deployed = parent.get("type") == "WORKFLOW_RELEASE_TAG"
    ends = [e for e in events if e["name"] in _TERMINAL and e["span_id"] == root["span_id"]]
    end = min(ends, key=lambda e: _time(e["timestamp"])) if ends else None
    started = _time(root["timestamp"])
    ended = _time(end["timestamp"]) if end else None
    error = end["body"].get("error") if end and end["name"].endswith("rejected") else None
    models: set[str] = set()
    tokens, cost = 0, 0.0
    for event in events:
        usage = event["body"].get("usage_result")
        if usage:
            for entry in usage["usage"]:
                models.add(entry["ml_model_name"])
                counts = entry["ml_model_usage"]
                tokens += counts.get("input_token_count", 0) + counts.get("output_token_count", 0)
            cost += sum(price["value"] for price in usage["cost"])
    streamed = any(e["name"] == "workflow.execution.streaming" for e in events)
    status = (
        end["name"].rsplit(".", 1)[1].upper() if end else "STREAMING" if streamed else "INITIATED"
    )
    return {
        "execution_id": UUID(root["span_id"]),
        "status": status,
        "workflow": root["body"]["workflow_definition"]["name"],
        "deployment": parent.get("deployment_name", "") if deployed else "",
        "release_tag": parent.get("release_tag_name", "") if deployed else "",
        "release_id": UUID(parent["deployment_history_item_id"]) if deployed else None,
        "external_id": parent.get("external_id") if deployed else None,
        "metadata": (parent.get("metadata") or {}) if deployed else {},
        "trace_id": UUID(root["trace_id"]),
        "started_at": started,
        "ended_at": ended,
        "duration_ms": (ended - started) / timedelta(milliseconds=1) if ended else None,
        "error_code": error.get("code") if error else None,
        "error_message": error.get("message") if error else None,
        "models": sorted(models),
        "tokens": tokens,
        "cost": cost,
        "has_actuals": False,
    }


_TERMINAL = ("workflow.execution.fulfilled", "workflow.execution.rejected")
