-- The Prime summary again, as `executions`, with small granules. `execution_summary` kept the
-- default of 8,192 rows per granule, so a status read decoded 8,192 rows of aggregate states
-- (the outcome's carries the outputs JSON) to answer one execution: 2.2 × the bare primary-key
-- read at 1,000,000 executions, 1.4 × with 256 (bench/README.md). A table's granularity cannot
-- be altered, and renaming a table in place cannot be made safe to run twice, so this builds
-- the new table beside the old: the view first, then the backfill, so that a projection
-- writing meanwhile (another replica's) loses nothing; its rows are aggregate states keyed by
-- ids, so a row copied twice, or by both paths, changes no answer. 0007 drops the old one.
CREATE TABLE IF NOT EXISTS executions
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
ORDER BY (workspace_id, execution_id)
SETTINGS index_granularity = 256;

-- Only the root workflow span decides the outcome; the earliest terminal event by (timestamp,
-- event id) wins (domain/lifecycle.py states the same rules in Python, and `runledger verify`
-- compares the two).
CREATE MATERIALIZED VIEW IF NOT EXISTS executions_mv TO executions AS
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

INSERT INTO executions SELECT * FROM execution_summary;
