"""An execution's resolved state: its newest snapshot, and the runs it continued from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class ResolvedState:
    """What Vellum's `WorkflowResolvedState` says of an execution (its root span)."""

    span_id: UUID
    trace_id: UUID
    timestamp: datetime
    state: dict[str, Any]
    previous_trace_id: UUID | None = None
    previous_span_id: UUID | None = None
    root_trace_id: UUID | None = None
    root_span_id: UUID | None = None
