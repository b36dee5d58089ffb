-- One row per workflow/node span, folded from its events with aggregate states that are
-- idempotent and order-free (min, max, argMin/argMax by (timestamp, event id)): a replayed or
-- shuffled batch gives the same span. Keyed by ids only.
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
    outcome AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID)),
    inputs AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID)),
    outputs AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID)),
    error AggregateFunction(argMin, String, Tuple(DateTime64(6, 'UTC'), UUID)),
    event_count SimpleAggregateFunction(max, UInt64)
)
ENGINE = AggregatingMergeTree
ORDER BY (workspace_id, execution_id, span_id)
SETTINGS index_granularity = 1024;

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
