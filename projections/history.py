"""An execution's history: its stored events in log order, a keyset page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from clickhouse_connect.driver.client import Client

from projections.clickhouse import query_text
from projections.payloads import inline

_HISTORY = query_text("execution_history")
# Past any position a log can reach (UInt64's largest): "no bound".
_NO_BOUND = 2**64 - 1


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One stored event: where the log holds it, when it arrived, the bytes that were sent."""

    position: int
    received_at: datetime
    raw: bytes


def history_page(
    client: Client,
    workspace_id: UUID,
    execution_id: UUID,
    *,
    after: int | None,
    limit: int,
    descending: bool,
) -> list[HistoryEvent]:
    """Up to `limit` events of the execution past `after` in the page's direction (later ones
    ascending, earlier ones descending), with every stored payload put back byte for byte."""
    lower, upper = 0, _NO_BOUND
    if after is not None:
        if descending:
            upper = after
        else:
            lower = after
    result = client.query(
        _HISTORY.replace("@DIRECTION@", "DESC" if descending else "ASC"),
        parameters={
            "workspace_id": workspace_id,
            "execution_id": execution_id,
            "after": lower,
            "before": upper,
            "limit": limit,
        },
        column_formats={"payload": "bytes"},
    )
    rows = result.result_rows
    raws = inline(client, workspace_id, execution_id, [row[2] for row in rows])
    # chDB hands DateTime64(6, 'UTC') back without its zone; it is UTC by the column's type.
    return [
        HistoryEvent(int(position), received_at.replace(tzinfo=received_at.tzinfo or UTC), raw)
        for (position, received_at, _), raw in zip(rows, raws, strict=True)
    ]
