-- `span_detail` (0009) is the keyset order now: each span's position is looked up in its own
-- rows (those of the block's spans, in the block's executions), and `span_order`, its view (the
-- dearest of a batch's views, an anti-join) and `spans` go. A span's position is the one its
-- rows here already have, else its lowest position in this batch: the runner applies the log
-- in order, so a span without rows is first seen in this batch, and a batch applied again
-- (after a crash before its tracking row, with other boundaries) finds the positions its first
-- application wrote, which were the same. The view must see the batch as one block: it does
-- not reliably see the rows it wrote for an earlier block of the same insert (one Native block
-- a batch: projections/store.py; tests/projections/test_span_order.py pins it).
-- `events` names the inserted block; a span without rows joins as 0 (join_use_nulls is
-- pinned: a server profile may turn it on).
--
-- 0009's view again with the lookup moved here: 0009's backfill is complete, so this view finds
-- every earlier span's position (had 0009 looked here, a projection writing during the backfill
-- would have keyed spans seen before the upgrade by that batch's positions). It is created
-- before 0009's view is dropped: while both run they write the same states at the same
-- positions, which changes no answer, and every batch meets at least one of them.
CREATE MATERIALIZED VIEW IF NOT EXISTS span_detail_mv TO span_detail AS
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
    SELECT workspace_id, execution_id, span_id, min(span_position) AS first_position
    FROM span_detail
    WHERE (workspace_id, execution_id) IN (SELECT workspace_id, execution_id FROM events)
      AND span_id IN (SELECT span_id FROM events)
    GROUP BY workspace_id, execution_id, span_id
) AS known USING (workspace_id, execution_id, span_id)
SETTINGS join_use_nulls = 0;

DROP VIEW IF EXISTS span_detail_upgrade_mv;
DROP VIEW IF EXISTS span_order_mv;
DROP TABLE IF EXISTS span_order;
DROP VIEW IF EXISTS spans_mv;
DROP TABLE IF EXISTS spans;
