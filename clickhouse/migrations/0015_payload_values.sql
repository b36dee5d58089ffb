-- The payload store (projections/payloads.py): each value of an event's body (`inputs`,
-- `outputs`, a snapshot's `state`) longer than the inline limit, as it was sent, while the
-- event and every view built from it carry a marker naming it by (log position, value). Read
-- only by the marker's key, one execution at a time, so sorted by it; the bytes compress apart
-- from the rest. A batch applied twice writes the same rows, which the engine merges away
-- (reads take one row per key). The projection writes these rows before the batch's events,
-- so a marker a read finds always names a row. A database projected before this migration
-- has no markers: nothing to fill in.
CREATE TABLE IF NOT EXISTS payload_values
(
    workspace_id UUID,
    execution_id UUID,
    span_id UUID,
    position UInt64,
    value LowCardinality(String),
    size UInt64,
    bytes String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, execution_id, position, value)
SETTINGS index_granularity = 256;
