"""Which execution an event belongs to, read from its parent context chain.

An execution is identified by the span id of its root `workflow.execution` span: the
outermost WORKFLOW context in the event's parent chain (DESIGN.md §2). Nested sub-workflows
and map iterations therefore belong to the execution that started them, and a workflow event
whose chain holds no WORKFLOW context is itself the root.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from uuid import UUID

from domain.vocabulary import WORKFLOW_CONTEXT_TYPE

# Deeper chains than this are refused: the SDK nests one context per sub-workflow level, and a
# bound keeps a hostile body from costing unbounded work.
MAX_PARENT_DEPTH = 128


def parent_chain(parent: Mapping[str, Any] | None) -> Iterator[Mapping[str, Any]]:
    """The parent contexts of an event, nearest first."""
    context = parent
    while context is not None:
        yield context
        nested = context.get("parent")
        context = nested if isinstance(nested, Mapping) else None


def root_workflow_span(parent: Mapping[str, Any] | None) -> UUID | None:
    """The span id of the outermost WORKFLOW context in the chain, or None if there is none."""
    root: UUID | None = None
    for context in parent_chain(parent):
        if context.get("type") == WORKFLOW_CONTEXT_TYPE:
            root = UUID(str(context["span_id"]))
    return root


def resolve_execution(
    is_workflow_event: bool, span_id: UUID, parent: Mapping[str, Any] | None
) -> UUID | None:
    """The execution id for an event, or None when a node event has no workflow above it."""
    root = root_workflow_span(parent)
    if root is not None:
        return root
    return span_id if is_workflow_event else None
