"""The bare ClickHouse statements the lists part measures the route against.

One hand-written statement per page: the range of `execution_index` the page spans (its
primary key: workspace, then start), narrowed by the filter's fixed part (the index's own
columns, where the bloom skip indexes apply), joined to what changes as an execution runs
(`executions`, `execution_extent`, `span_usage`, `actuals_streams`) for the ids of that range
only, the filter's changing part applied after the join, newest first, `LIMIT 50`. Its
columns are what a list item shows. The range is handed to it: the start of the page's last
row as the lower bound (found by the route's answer before the clock runs) and the cursor's
position as the upper one. The route has to find that range by reading chunks of the index,
so the bare statement is the floor of what this layout can do, not a rival design.

Left out: the join with `runs` (the data holds no runs, so it adds nothing to an answer) and
the `listed` check of a root initiated twice (none is).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

# A bound above every start (the first page has no cursor).
TOP_STARTED = datetime(2299, 12, 31, tzinfo=UTC)
TOP_ID = UUID("ffffffff-ffff-ffff-ffff-ffffffffffff")
BOTTOM_STARTED = datetime(1970, 1, 1, tzinfo=UTC)

_PAGE = """
WITH page AS
(
    SELECT execution_id, started_at, workflow, deployment_id, deployment, release_tag,
           release_id, external_id, metadata, trace_id
    FROM execution_index
    WHERE workspace_id = {workspace_id:UUID}
      AND started_at >= {low:DateTime64(6, 'UTC')}
      AND started_at <= {high_started:DateTime64(6, 'UTC')}
      AND (started_at < {high_started:DateTime64(6, 'UTC')} OR execution_id < {high_id:UUID})
      AND (@FIXED@)
)
SELECT
    p.execution_id AS execution_id,
    p.started_at AS started_at,
    multiIf(e.outcome.1 != '', e.outcome.1, e.streamed = 1, 'STREAMING', 'INITIATED') AS status,
    p.workflow AS workflow,
    p.deployment_id, p.deployment, p.release_tag, p.release_id, p.external_id, p.metadata,
    p.trace_id,
    x.ended_at AS ended_at,
    (toUnixTimestamp64Micro(x.ended_at) - toUnixTimestamp64Micro(p.started_at)) / 1000.0
        AS duration_ms,
    if(e.outcome.1 = 'REJECTED', e.outcome.3, NULL) AS error,
    u.models, u.input_tokens, u.output_tokens, u.cost,
    x.span_count AS span_count,
    p.execution_id IN (
        SELECT execution_id FROM actuals_streams
        WHERE workspace_id = {workspace_id:UUID} AND execution_id IN (SELECT execution_id FROM page)
    ) AS has_actuals
FROM page AS p
LEFT JOIN
(
    SELECT execution_id, argMinMerge(outcome) AS outcome, max(streamed) AS streamed
    FROM executions
    WHERE workspace_id = {workspace_id:UUID} AND execution_id IN (SELECT execution_id FROM page)
    GROUP BY execution_id
) AS e ON e.execution_id = p.execution_id
LEFT JOIN
(
    SELECT execution_id, min(ended_at) AS ended_at, uniqExactMerge(span_count) AS span_count
    FROM execution_extent
    WHERE workspace_id = {workspace_id:UUID} AND execution_id IN (SELECT execution_id FROM page)
    GROUP BY execution_id
) AS x ON x.execution_id = p.execution_id
LEFT JOIN
(
    SELECT
        execution_id,
        groupUniqArrayArray(arrayMap(m -> JSONExtractString(m, 'ml_model_name'), usage)) AS models,
        sum(arraySum(m -> JSONExtractUInt(m, 'ml_model_usage', 'input_token_count'), usage))
            AS input_tokens,
        sum(arraySum(m -> JSONExtractUInt(m, 'ml_model_usage', 'output_token_count'), usage))
            AS output_tokens,
        sum(arraySum(c -> JSONExtractFloat(c, 'value'), JSONExtractArrayRaw(result, 'cost')))
            AS cost
    FROM
    (
        SELECT execution_id, argMinMerge(usage_result) AS result,
               JSONExtractArrayRaw(result, 'usage') AS usage
        FROM span_usage
        WHERE workspace_id = {workspace_id:UUID}
          AND execution_id IN (SELECT execution_id FROM page)
        GROUP BY execution_id, span_id
    )
    GROUP BY execution_id
) AS u ON u.execution_id = p.execution_id
WHERE (@CHANGING@)
ORDER BY started_at DESC, execution_id DESC
LIMIT {limit:UInt64} OFFSET {offset:UInt64}
"""

COUNT_BY_STATUS = """
SELECT status, count() AS execution_count
FROM
(
    SELECT multiIf(outcome.1 != '', outcome.1, streamed = 1, 'STREAMING', 'INITIATED') AS status
    FROM
    (
        SELECT argMinMerge(outcome) AS outcome, max(streamed) AS streamed
        FROM executions
        WHERE workspace_id = {workspace_id:UUID}
        GROUP BY execution_id
    )
)
GROUP BY status
ORDER BY execution_count DESC, status ASC
"""


@dataclass(frozen=True)
class ListCase:
    """One filter of the lists part: the route's `q` and the bare statement's two parts."""

    key: str
    q: str
    fixed: str  # over execution_index's columns (before any join)
    changing: str  # over the joined row (after)
    parameters: dict[str, Any]

    def statement(self) -> str:
        """The bare statement of this filter."""
        return _PAGE.replace("@FIXED@", self.fixed).replace("@CHANGING@", self.changing)


def cases(external_id: str, day: datetime, rare_word: str) -> list[ListCase]:
    """The issue's five filters."""
    day_end = day.replace(day=day.day + 1)
    day_text = day.strftime("%Y-%m-%dT%H:%M:%SZ")
    end_text = day_end.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        ListCase("status", "status = 'REJECTED'", "1", "e.outcome.1 = 'REJECTED'", {}),
        ListCase(
            "workflow_day",
            f"workflow = 'wf3' AND started_at BETWEEN '{day_text}' AND '{end_text}'",
            "workflow = 'wf3' AND started_at BETWEEN {day:DateTime64(6, 'UTC')}"
            " AND {day_end:DateTime64(6, 'UTC')}",
            "1",
            {"day": day, "day_end": day_end},
        ),
        ListCase(
            "metadata",
            "metadata.customer = 'c17'",
            "metadata['customer'] = '\"c17\"'",
            "1",
            {},
        ),
        ListCase(
            "external_id",
            f"external_id = '{external_id}'",
            "external_id = {external_id:String}",
            "1",
            {"external_id": external_id},
        ),
        ListCase(
            "error_message",
            f"error.message CONTAINS '{rare_word}'",
            "1",
            "e.outcome.1 = 'REJECTED' AND"
            " position(JSONExtractString(e.outcome.3, 'message'), {word:String}) > 0",
            {"word": rare_word},
        ),
    ]
