-- Every logged event, one row each: the audit trail and the raw material of dashboards.
-- Keyed by ids and the log position only, never by anything that changes, so a replayed
-- batch writes identical rows that collapse into one; reads use FINAL or LIMIT 1 BY.
-- Sorted by span within an execution: the detail page fetches the events of a page of spans.
CREATE TABLE IF NOT EXISTS events
(
    workspace_id UUID,
    execution_id UUID,
    span_id UUID,
    position UInt64,
    event_id UUID,
    name LowCardinality(String),
    parent_span_id Nullable(UUID),
    trace_id UUID,
    timestamp DateTime64(6, 'UTC'),
    received_at DateTime64(6, 'UTC'),
    payload String CODEC(ZSTD(3))
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, execution_id, span_id, position)
SETTINGS index_granularity = 1024;
