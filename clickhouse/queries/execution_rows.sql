-- Executions as the list shows them, for the rows of `execution_index` that the source marker
-- picks (a chunk of a page, or every row a count or metric reads): the index's write-once
-- fields, and what changes as the execution runs, joined for those rows only. For a chunk, the
-- in-chunk marker is `execution_id IN` the chunk's ids (a parameter: each table is read by its
-- primary key); for a count, true (the workspace bounds every read). The span-usage marker is
-- span_usage_rows.sql, each span's usage. projections/listing.py fills the markers; every
-- value is a server-side parameter. The columns are what the filter
-- language names (projections/filter_sql.py), plus what an item shows.
--
-- `listed` is 0 for the rows the list skips: an ingested execution's row when the execution
-- is a run (the run's own row counts), and every row of a root span initiated twice but the
-- first in the log (migration 0013). A listed row's position is where the execution was
-- listed: its id as an integer (migration 0014).
SELECT
    i.execution_id AS execution_id,
    i.started_at AS started_at,
    i.position AS listed_position,
    (i.run = 1 OR (r.requested_at IS NULL AND i.position = x.initiated_position)) AS listed,
    multiIf(
        e.outcome.1 != '', e.outcome.1,
        e.streamed = 1, 'STREAMING',
        e.seen = 1, 'INITIATED',
        r.started_at IS NOT NULL, 'INITIATED',
        'PENDING'
    ) AS status,
    if(i.workflow != '', i.workflow, e.workflow_name) AS workflow,
    i.deployment_id AS deployment_id,
    i.deployment AS deployment,
    i.release_tag AS release_tag,
    i.release_id AS release_id,
    i.external_id AS external_id,
    i.metadata AS metadata,
    if(i.trace_id IS NULL, r.trace_id, i.trace_id) AS trace_id,
    x.ended_at AS ended_at,
    (toUnixTimestamp64Micro(x.ended_at) - toUnixTimestamp64Micro(i.started_at)) / 1000.0 AS duration_ms,
    if(e.outcome.1 = 'REJECTED', e.outcome.3, NULL) AS error,
    if(JSONType(error, 'code') = 'String', JSONExtractString(error, 'code'), NULL) AS error_code,
    if(JSONType(error, 'message') = 'String', JSONExtractString(error, 'message'), NULL) AS error_message,
    u.models AS models,
    u.input_tokens AS input_tokens,
    u.output_tokens AS output_tokens,
    u.input_tokens + u.output_tokens AS tokens,
    u.cost AS cost,
    x.span_count AS span_count,
    i.execution_id IN (
        SELECT execution_id FROM actuals_streams
        WHERE workspace_id = {workspace_id:UUID}
          AND @IN_CHUNK@
    ) AS has_actuals
FROM (@SOURCE@) AS i
LEFT JOIN
(
    SELECT
        execution_id,
        argMinMerge(outcome) AS outcome,
        max(streamed) AS streamed,
        any(workflow_name) AS workflow_name,
        1 AS seen
    FROM executions
    WHERE workspace_id = {workspace_id:UUID} AND @IN_CHUNK@
    GROUP BY execution_id
) AS e ON e.execution_id = i.execution_id
LEFT JOIN
(
    SELECT
        execution_id,
        min(ended_at) AS ended_at,
        uniqExactMerge(span_count) AS span_count,
        min(initiated_position) AS initiated_position
    FROM execution_extent
    WHERE workspace_id = {workspace_id:UUID} AND @IN_CHUNK@
    GROUP BY execution_id
) AS x ON x.execution_id = i.execution_id
LEFT JOIN
(
    SELECT
        execution_id,
        min(requested_at) AS requested_at,
        min(started_at) AS started_at,
        any(trace_id) AS trace_id
    FROM runs
    WHERE @IN_CHUNK@
    GROUP BY execution_id
    HAVING any(workspace_id) = {workspace_id:UUID}
) AS r ON r.execution_id = i.execution_id
LEFT JOIN
(
    -- One usage result per span (span_usage_rows.sql), summed: as the detail's totals.
    SELECT
        execution_id,
        groupUniqArrayArray(models) AS models,
        sum(arraySum(input_token_counts)) AS input_tokens,
        sum(arraySum(output_token_counts)) AS output_tokens,
        sum(cost) AS cost
    FROM (@SPAN_USAGE@)
    GROUP BY execution_id
) AS u ON u.execution_id = i.execution_id
