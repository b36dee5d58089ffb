-- Each node span's usage and cost: the `usage_result` a `node.execution.fulfilled` or
-- `.rejected` event body may carry (Vellum's WorkflowExecutionUsageCalculationFulfilledBody).
-- Only spans that reported usage get a row, so an execution's totals read its LLM spans only.
-- Keyed by ids; the earliest such event by (timestamp, event id) wins through an argMin state,
-- so a replayed, re-applied or shuffled batch gives the same row. The detail sums these
-- per-span values in Python; nothing here sums raw events (DESIGN.md §3).
CREATE TABLE IF NOT EXISTS span_usage
(
    workspace_id UUID,
    execution_id UUID,
    span_id UUID,
    usage_result AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID))
)
ENGINE = AggregatingMergeTree
ORDER BY (workspace_id, execution_id, span_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS span_usage_mv TO span_usage AS
SELECT
    workspace_id,
    execution_id,
    span_id,
    argMinState(JSONExtractRaw(payload, 'body', 'usage_result'), tuple(timestamp, event_id)) AS usage_result
FROM events
WHERE name IN ('node.execution.fulfilled', 'node.execution.rejected')
  AND JSONType(payload, 'body', 'usage_result') = 'Object'
GROUP BY workspace_id, execution_id, span_id;

-- A database that had events before this migration: fold them in too. The rows are aggregate
-- states keyed by ids, so running this again, or beside the view, changes no answer.
INSERT INTO span_usage
SELECT
    workspace_id,
    execution_id,
    span_id,
    argMinState(JSONExtractRaw(payload, 'body', 'usage_result'), tuple(timestamp, event_id)) AS usage_result
FROM events
WHERE name IN ('node.execution.fulfilled', 'node.execution.rejected')
  AND JSONType(payload, 'body', 'usage_result') = 'Object'
GROUP BY workspace_id, execution_id, span_id;
