"""The JSON of a listed execution (Runledger's own list; Vellum's is in api/vellum_lists.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.listing import ExecutionItem
from projections.metrics import Bucket


def iso(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC with a `Z`."""
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def item_json(item: ExecutionItem, base_url: str, number: int | None) -> dict[str, Any]:
    """One execution of a page: what it is (with its `number`: api/execution_numbers.py), how
    it went, what it used."""
    execution_id = str(item.execution_id)
    deployment = None
    if item.deployment_id is not None or item.deployment:
        deployment = {
            "id": str(item.deployment_id) if item.deployment_id else None,
            "name": item.deployment or None,
        }
    return {
        "id": execution_id,
        "number": number,
        "workflow": item.workflow or None,
        "status": item.status,
        "started_at": iso(item.started_at),
        "ended_at": iso(item.ended_at),
        "duration_ms": item.duration_ms,
        "error": item.error,
        "deployment": deployment,
        "release_tag": item.release_tag or None,
        "release_id": str(item.release_id) if item.release_id else None,
        "external_id": item.external_id,
        "metadata": item.metadata,
        "trace_id": str(item.trace_id) if item.trace_id else None,
        "usage": {
            "input_tokens": item.input_tokens,
            "output_tokens": item.output_tokens,
            "tokens": item.input_tokens + item.output_tokens,
            "cost": {"value": item.cost, "unit": "USD"},
            "models": item.models,
        },
        "span_count": item.span_count,
        "has_actuals": item.has_actuals,
        "detail_url": f"{base_url}v1/workflow-executions/{execution_id}/detail",
    }


def bucket_json(bucket: Bucket) -> dict[str, Any]:
    """One bucket of a metrics series."""
    return {
        "start": iso(bucket.start),
        "group": bucket.group,
        "count": bucket.execution_count,
        "fulfilled_count": bucket.fulfilled_count,
        "rejected_count": bucket.rejected_count,
        "error_rate": bucket.error_rate,
        "duration_ms": {
            "p50": bucket.duration_p50_ms,
            "p90": bucket.duration_p90_ms,
            "p99": bucket.duration_p99_ms,
        },
        "input_tokens": bucket.input_tokens,
        "output_tokens": bucket.output_tokens,
        "cost": {"value": bucket.cost, "unit": "USD"},
    }
