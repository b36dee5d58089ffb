-- The "Prime summary": one aggregate row per execution, fed by a materialized view from
-- `events`. Only the root workflow span decides the outcome; the earliest terminal event by
-- (timestamp, event id) wins (domain/lifecycle.py states the same rules in Python, and
-- `runledger verify` compares the two).
CREATE TABLE IF NOT EXISTS execution_summary
(
    workspace_id UUID,
    execution_id UUID,
    first_position SimpleAggregateFunction(min, UInt64),
    last_position SimpleAggregateFunction(max, UInt64),
    started_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    last_event_at SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    streamed SimpleAggregateFunction(max, UInt8),
    outcome AggregateFunction(argMin, Tuple(String, String, String), Tuple(DateTime64(6, 'UTC'), UUID)),
    outcome_statuses AggregateFunction(groupUniqArray, String),
    workflow_name SimpleAggregateFunction(any, String),
    event_count AggregateFunction(uniqExact, UUID)
)
ENGINE = AggregatingMergeTree
ORDER BY (workspace_id, execution_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS execution_summary_mv TO execution_summary AS
SELECT
    workspace_id,
    execution_id,
    min(position) AS first_position,
    max(position) AS last_position,
    minIf(toNullable(timestamp), span_id = execution_id AND name = 'workflow.execution.initiated') AS started_at,
    max(timestamp) AS last_event_at,
    maxIf(toUInt8(1), span_id = execution_id AND name = 'workflow.execution.streaming') AS streamed,
    argMinIfState(
        tuple(
            if(name = 'workflow.execution.fulfilled', 'FULFILLED', 'REJECTED'),
            JSONExtractRaw(payload, 'body', 'outputs'),
            JSONExtractRaw(payload, 'body', 'error')
        ),
        tuple(timestamp, event_id),
        span_id = execution_id AND name IN ('workflow.execution.fulfilled', 'workflow.execution.rejected')
    ) AS outcome,
    groupUniqArrayIfState(
        if(name = 'workflow.execution.fulfilled', 'FULFILLED', 'REJECTED'),
        span_id = execution_id AND name IN ('workflow.execution.fulfilled', 'workflow.execution.rejected')
    ) AS outcome_statuses,
    anyIf(JSONExtractString(payload, 'body', 'workflow_definition', 'name'), span_id = execution_id) AS workflow_name,
    uniqExactState(event_id) AS event_count
FROM events
GROUP BY workspace_id, execution_id;
