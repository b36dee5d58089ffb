"""The runtime benchmark's workflow: ten node spans that do nothing, as a deployable function."""

from __future__ import annotations

from runtime.nodes import node


@node
def step(index: int) -> int:
    """One no-op node."""
    return index


def ten_nodes() -> dict[str, int]:
    """Ten nodes in a row; the outputs prove each ran."""
    return {"count": sum(1 for i in range(10) if step(i) == i)}
