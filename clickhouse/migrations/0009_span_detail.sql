-- What a detail page shows of each span, stored in the page's own order. `spans` and `events`
-- are sorted by span id, which is random: a page's 100 spans sat in most of the execution's
-- granules, and looking them and their events up was four fifths of a page at 20,000 spans
-- (bench/README.md). Here the sort key puts the span's keyset position before its id, so a
-- page is one range read of the rows after the cursor. The position is the log position where
-- the span was first seen, the key `span_order` holds: it never changes once the span has a row
-- there, so a key holding it never moves (DESIGN.md §3, §4). From 0010 on, this table is the
-- keyset order itself and `span_order` is gone.
--
-- The rows are aggregate states, order-free and idempotent like those of `spans` (min, max,
-- any, argMin by (timestamp, event id)), and `payloads` is the set of the span's events as
-- (log position, timestamp, payload), snapshots left out as the detail always did (each carries
-- the whole workflow state; the detail's `state` has the latest). A set, so a batch applied
-- twice adds nothing. The payloads are also in `events`: the copy is what buys the range read,
-- and it leaves out the snapshots, the bulk of a workflow's bytes.
CREATE TABLE IF NOT EXISTS span_detail
(
    workspace_id UUID,
    execution_id UUID,
    span_position UInt64,
    span_id UUID,
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
    payloads AggregateFunction(groupUniqArray, Tuple(UInt64, DateTime64(6, 'UTC'), String)) CODEC(ZSTD(3))
)
ENGINE = AggregatingMergeTree
ORDER BY (workspace_id, execution_id, span_position, span_id)
SETTINGS index_granularity = 256;

-- A span's position: the row an earlier batch left in `span_order`, else the lowest position
-- of the span in this batch. The runner applies the log in order, so a span with no row yet is
-- first seen in this batch, and `span_order_mv`, running on the same block before or after this
-- view, writes that same lowest position: the two agree whichever runs first. This view serves
-- while the backfill below runs (a projection writing meanwhile, another replica's, must find
-- the positions of spans seen before the upgrade); 0010 replaces it with one that looks the
-- positions up here. `events` names the inserted block; a span without a row joins as 0
-- (join_use_nulls is pinned: a server profile may turn it on).
CREATE MATERIALIZED VIEW IF NOT EXISTS span_detail_upgrade_mv TO span_detail AS
SELECT
    workspace_id,
    execution_id,
    if(known.first_position = 0, batch.block_position, known.first_position) AS span_position,
    span_id,
    batch.kind AS kind,
    batch.parent_span_id AS parent_span_id,
    batch.label AS label,
    batch.definition_id AS definition_id,
    batch.start_ts AS start_ts,
    batch.end_ts AS end_ts,
    batch.status AS status,
    batch.inputs AS inputs,
    batch.outputs AS outputs,
    batch.error AS error,
    batch.payloads AS payloads
FROM
(
    SELECT
        workspace_id,
        execution_id,
        span_id,
        min(position) AS block_position,
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
        groupUniqArrayIfState(tuple(position, timestamp, payload), name != 'workflow.execution.snapshotted') AS payloads
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
    GROUP BY workspace_id, execution_id, span_id
) AS batch
LEFT JOIN
(
    SELECT workspace_id, execution_id, span_id, min(first_position) AS first_position
    FROM span_order
    WHERE (workspace_id, execution_id) IN (SELECT workspace_id, execution_id FROM events)
    GROUP BY workspace_id, execution_id, span_id
) AS known USING (workspace_id, execution_id, span_id)
SETTINGS join_use_nulls = 0;

-- A database that had events before this migration: fold them in too, straight from `events`
-- with the view's own expressions, each span at its lowest log position (where `span_order`
-- has it: the log is applied in order). `events` is sorted by span, so with
-- optimize_aggregation_in_order the fold streams span by span and holds one span's payloads at
-- a time, whatever the database's size (a join of folded spans with their payloads would hold
-- them all in memory). Aggregate states keyed by a position that never changes, so a row
-- written both here and by the view (a projection running meanwhile), or by this statement run
-- twice, changes no answer.
INSERT INTO span_detail
SELECT
    workspace_id,
    execution_id,
    min(position) AS span_position,
    span_id,
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
    groupUniqArrayIfState(tuple(position, timestamp, payload), name != 'workflow.execution.snapshotted') AS payloads
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
GROUP BY workspace_id, execution_id, span_id
SETTINGS optimize_aggregation_in_order = 1;
