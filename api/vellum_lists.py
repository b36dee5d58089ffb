"""Vellum's list of a deployment's executions: `SlimWorkflowExecutionRead` and
`WorkflowEventExecutionRead` (vellum-ai's models are the contract)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from api.vellum_shapes import detail_json, pending_detail_json
from domain.vellum_values import output_type
from projections.detail import DetailPage
from projections.views import PendingDetail

_SLIM_FIELDS = (
    "span_id",
    "start",
    "end",
    "inputs",
    "outputs",
    "error",
    "usage_results",
    "parent_context",
)


def latest_actual(actuals: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The newest actual submitted, as a `WorkflowExecutionActual` (None without one)."""
    if not actuals:
        return None
    newest = max(actuals, key=lambda actual: float(actual.get("timestamp") or 0.0))
    value = newest.get("desired_output_value")
    name = newest.get("output_key") or newest.get("output_id") or ""
    return {
        "output": {
            "id": newest.get("output_id") or name,
            "name": name,
            "type": newest.get("output_type") or output_type(value).value,
            "value": value,
        },
        "timestamp": datetime.fromtimestamp(float(newest.get("timestamp") or 0.0), UTC),
        "quality": newest.get("quality"),
        "metadata": newest.get("metadata"),
    }


def event_execution_json(page: DetailPage | PendingDetail, number: int | None) -> dict[str, Any]:
    """A `WorkflowEventExecutionRead`: the execution's detail with its newest actual."""
    body = (
        pending_detail_json(page, number)
        if isinstance(page, PendingDetail)
        else detail_json(str(page.summary.execution_id), page, number)
    )
    body["latest_actual"] = latest_actual(page.actuals)
    body["metric_results"] = []
    return body


def slim_execution_json(page: DetailPage | PendingDetail) -> dict[str, Any]:
    """A `SlimWorkflowExecutionRead`: the execution's header without its spans."""
    full = event_execution_json(page, None)  # the slim shape has no number
    slim = {name: full[name] for name in _SLIM_FIELDS}
    slim |= {
        "latest_actual": full["latest_actual"],
        "metric_results": [],
        "status": full["status"],
    }
    return slim


JSON_OPTIONS = orjson.OPT_UTC_Z
