"""Which execution an event belongs to, read from its parent context chain.

An execution is identified by the span id of its root `workflow.execution` span: the
outermost WORKFLOW context in the event's parent chain (DESIGN.md §2). Nested sub-workflows
and map iterations therefore belong to the execution that started them, and a workflow event
whose chain holds no WORKFLOW context is itself the root. `domain.envelope` applies the rule
while it validates the chain, in the same single walk.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

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
