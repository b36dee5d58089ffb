-- The root span's header in `executions`: its initiated event's parent context and links, and
-- its newest snapshot (state and trace, by timestamp then log position) with that snapshot's
-- time. The detail header and `GET /v1/workflows/{id}/state` read `events` for these before:
-- every snapshot of the root span on every read, and a big workflow has thousands of them, each
-- with the whole state (NOTES.md), so a detail page's cost grew with the execution's snapshots.
-- Here they are aggregate states keyed by the execution, folded as the events arrive; the
-- snapshot's holds a whole state, so it is compressed as payloads are (ZSTD).
--
-- The view is replaced as 0006 and 0010 replaced theirs: the new view (every column, the new
-- ones too) is created before the old one is dropped, so every batch meets at least one, and
-- while both run they write the same states (min, max, argMin, argMax, uniqExact and
-- groupUniqArray of the same rows: a row written twice changes no answer). The backfill then
-- folds the events projected before the upgrade into every column, for the same reason safe
-- beside the view and safe to run again; it reads `events` in its sort order and folds one
-- execution at a time, so its memory stays flat however large the table. The new columns'
-- JSON is extracted behind an `if` on the root span's initiated and snapshotted events;
-- extracting from a batch's payloads is a small part of a batch's cost either way
-- (bench/README.md: the view's batch cost beside the old view's).
ALTER TABLE executions
    ADD COLUMN IF NOT EXISTS initiated AggregateFunction(argMin, Tuple(String, String), UInt64);

ALTER TABLE executions
    ADD COLUMN IF NOT EXISTS snapshot AggregateFunction(argMax, Tuple(String, UUID), Tuple(DateTime64(6, 'UTC'), UInt64))
        CODEC(ZSTD(3));

ALTER TABLE executions
    ADD COLUMN IF NOT EXISTS snapshot_at SimpleAggregateFunction(max, Nullable(DateTime64(6, 'UTC')));

CREATE MATERIALIZED VIEW IF NOT EXISTS executions_header_mv TO executions AS
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
    uniqExactState(event_id) AS event_count,
    argMinIfState(
        if(
            span_id = execution_id AND name = 'workflow.execution.initiated',
            tuple(JSONExtractRaw(payload, 'parent'), JSONExtractRaw(payload, 'links')),
            tuple('', '')
        ),
        position,
        span_id = execution_id AND name = 'workflow.execution.initiated'
    ) AS initiated,
    argMaxIfState(
        if(
            span_id = execution_id AND name = 'workflow.execution.snapshotted',
            tuple(JSONExtractRaw(payload, 'body', 'state'), trace_id),
            tuple('', trace_id)
        ),
        tuple(timestamp, position),
        span_id = execution_id AND name = 'workflow.execution.snapshotted'
    ) AS snapshot,
    maxIf(toNullable(timestamp), span_id = execution_id AND name = 'workflow.execution.snapshotted') AS snapshot_at
FROM events
GROUP BY workspace_id, execution_id;

DROP VIEW IF EXISTS executions_mv;

INSERT INTO executions
    (workspace_id, execution_id, first_position, last_position, started_at, last_event_at,
     streamed, outcome, outcome_statuses, workflow_name, event_count, initiated, snapshot,
     snapshot_at)
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
    uniqExactState(event_id) AS event_count,
    argMinIfState(
        if(
            span_id = execution_id AND name = 'workflow.execution.initiated',
            tuple(JSONExtractRaw(payload, 'parent'), JSONExtractRaw(payload, 'links')),
            tuple('', '')
        ),
        position,
        span_id = execution_id AND name = 'workflow.execution.initiated'
    ) AS initiated,
    argMaxIfState(
        if(
            span_id = execution_id AND name = 'workflow.execution.snapshotted',
            tuple(JSONExtractRaw(payload, 'body', 'state'), trace_id),
            tuple('', trace_id)
        ),
        tuple(timestamp, position),
        span_id = execution_id AND name = 'workflow.execution.snapshotted'
    ) AS snapshot,
    maxIf(toNullable(timestamp), span_id = execution_id AND name = 'workflow.execution.snapshotted') AS snapshot_at
FROM events
GROUP BY workspace_id, execution_id
SETTINGS optimize_aggregation_in_order = 1;
