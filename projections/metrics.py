"""Time series over the list of executions: what dashboards and the web UI chart.

Read from the same joined rows as the list (listing.py), so a chart and the list it links to
always agree; the time range is part of the prefilter, so only the index rows in range are
joined. Langfuse's metrics API is the model: counts, error rate, duration quantiles, tokens and
cost, per bucket and group.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from clickhouse_connect.driver.client import Client

from projections.clickhouse import query_text
from projections.listing import ALL_SOURCE, GROUPS, ListFilter, SqlCondition, fill, rows_query
from projections.queries import utc

_METRICS = query_text("execution_metrics")


class Interval(StrEnum):
    """A bucket's length."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"

    @property
    def seconds(self) -> int:
        return {"minute": 60, "hour": 3600, "day": 86_400, "week": 604_800}[self.value]


MAX_BUCKETS = 10_000
"""How many buckets one series may span (a year by the hour is 8,760)."""


@dataclass(frozen=True, slots=True)
class Bucket:
    """The executions of one group that started in one interval."""

    start: datetime
    group: str | None
    execution_count: int
    fulfilled_count: int
    rejected_count: int
    duration_p50_ms: float | None
    duration_p90_ms: float | None
    duration_p99_ms: float | None
    input_tokens: int
    output_tokens: int
    cost: float

    @property
    def error_rate(self) -> float | None:
        """Rejected among those that ended; None when none did."""
        ended = self.fulfilled_count + self.rejected_count
        return self.rejected_count / ended if ended else None


class ExecutionMetrics:
    """Series of a workspace's executions; give it a client of its own."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def series(
        self,
        workspace_id: UUID,
        where: ListFilter,
        interval: Interval,
        span: tuple[datetime, datetime],
        group_by: str | None = None,
    ) -> list[Bucket]:
        """The buckets of executions started in `span` ([from, to)), oldest first."""
        start, end = span
        in_range = SqlCondition(
            "started_at >= {metrics_from:DateTime64(6, 'UTC')} "
            "AND started_at < {metrics_to:DateTime64(6, 'UTC')}",
            {"metrics_from": start, "metrics_to": end},
        )
        scoped = ListFilter(match=where.match, prefilter=where.prefilter & in_range)
        query = fill(
            _METRICS,
            rows=rows_query(ALL_SOURCE, scoped),
            match=where.match.sql,
            interval=interval.name,
            group=GROUPS[group_by] if group_by else "NULL",
        )
        parameters = {
            **scoped.prefilter.parameters,
            **where.match.parameters,
            "workspace_id": workspace_id,
        }
        result = self._client.query(query, parameters=parameters)
        buckets = []
        for (
            bucket,
            group,
            count,
            fulfilled,
            rejected,
            durations,
            tokens_in,
            tokens_out,
            cost,
        ) in result.result_rows:
            p50, p90, p99 = durations if fulfilled + rejected else (None, None, None)
            buckets.append(
                Bucket(
                    start=utc(bucket) or bucket,
                    group=group,
                    execution_count=int(count),
                    fulfilled_count=int(fulfilled),
                    rejected_count=int(rejected),
                    duration_p50_ms=p50,
                    duration_p90_ms=p90,
                    duration_p99_ms=p99,
                    input_tokens=int(tokens_in),
                    output_tokens=int(tokens_out),
                    cost=float(cost),
                )
            )
        return buckets
