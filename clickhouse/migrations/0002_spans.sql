-- One row per workflow/node span, folded from its events by a materialized view with aggregate
-- states that are idempotent and order-free (min, max, any of a constant, argMin by
-- (timestamp, event id), uniqExact): a replayed or shuffled batch gives the same span.
-- Keyed by ids only; `first_position` is the span's position at first sight in the log.
CREATE TABLE IF NOT EXISTS spans
(
    workspace_id UUID,
    execution_id UUID,
    span_id UUID,
    first_position SimpleAggregateFunction(min, UInt64),
    kind SimpleAggregateFunction(any, LowCardinality(String)),
    parent_span_id SimpleAggregateFunction(any, Nullable(UUID)),
    label SimpleAggregateFunction(any, String),
    definition_id SimpleAggregateFunction(any, String),
    start_ts SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    end_ts SimpleAggregateFunction(max, Nullable(DateTime64(6, 'UTC'))),
    status AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID)),
    inputs AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID)),
    outputs AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID)),
    error AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID)),
    event_count AggregateFunction(uniqExact, UUID)
)
ENGINE = AggregatingMergeTree
ORDER BY (workspace_id, execution_id, span_id)
SETTINGS index_granularity = 1024;

-- Span kind, parent, label and definition are the same on every event of a span; the `If`
-- conditions pick the event that carries each part (inputs on initiated, outputs on fulfilled).
CREATE MATERIALIZED VIEW IF NOT EXISTS spans_mv TO spans AS
SELECT
    workspace_id,
    execution_id,
    span_id,
    min(position) AS first_position,
    any(if(startsWith(name, 'workflow.'), 'workflow.execution', 'node.execution')) AS kind,
    any(parent_span_id) AS parent_span_id,
    anyIf(label, label != '') AS label,
    anyIf(definition_id, definition_id != '') AS definition_id,
    minIf(toNullable(timestamp), endsWith(name, '.initiated')) AS start_ts,
    maxIf(toNullable(timestamp), endsWith(name, '.fulfilled') OR endsWith(name, '.rejected')) AS end_ts,
    argMinIfState(
        if(endsWith(name, '.fulfilled'), 'FULFILLED', 'REJECTED'),
        tuple(timestamp, event_id),
        endsWith(name, '.fulfilled') OR endsWith(name, '.rejected')
    ) AS status,
    argMinIfState(JSONExtractRaw(payload, 'body', 'inputs'), tuple(timestamp, event_id), endsWith(name, '.initiated')) AS inputs,
    argMinIfState(JSONExtractRaw(payload, 'body', 'outputs'), tuple(timestamp, event_id), endsWith(name, '.fulfilled')) AS outputs,
    argMinIfState(JSONExtractRaw(payload, 'body', 'error'), tuple(timestamp, event_id), endsWith(name, '.rejected')) AS error,
    uniqExactState(event_id) AS event_count
FROM
(
    SELECT
        *,
        if(
            startsWith(name, 'workflow.'),
            JSONExtractString(payload, 'body', 'workflow_definition', 'name'),
            JSONExtractString(payload, 'body', 'node_definition', 'name')
        ) AS label,
        if(
            startsWith(name, 'workflow.'),
            JSONExtractString(payload, 'body', 'workflow_definition', 'id'),
            JSONExtractString(payload, 'body', 'node_definition', 'id')
        ) AS definition_id
    FROM events
)
GROUP BY workspace_id, execution_id, span_id;

-- The keyset order of an execution's spans: the log position where each span was first seen.
-- Written once per span by the projection runner, which follows the log in order; the key never
-- changes once written, and later spans only extend it (DESIGN.md §4).
CREATE TABLE IF NOT EXISTS span_order
(
    workspace_id UUID,
    execution_id UUID,
    first_position UInt64,
    span_id UUID
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, execution_id, first_position, span_id)
SETTINGS index_granularity = 256;
