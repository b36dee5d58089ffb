-- The list of a workspace's executions (GET /v1/workflow-executions and Vellum's
-- execution-events), stored in the order that serves it.
--
-- `execution_index` holds one row per execution with what never changes once it is known:
-- when it started, its workflow, the deployment, release and tag that ran it, its external id,
-- metadata and trace. It is sorted by workspace, then start time, so a page newest-first (or
-- oldest-first) is a range read of the primary key that stops after the rows it needs, however
-- many executions the workspace has; the skip indexes let filters on an external id, a trace
-- or a metadata pair jump over granules that cannot match. What changes as the execution runs
-- (status, end, error, usage) is joined from `executions`, `execution_extent`, `span_usage` and
-- `runs` for the rows of one chunk of the index at a time (projections/listing.py).
--
-- A row comes from one of two places, never both:
-- - a run the runtime accepted: its `Run.Requested` fact (projections/store.py inserts it from
--   `runs`), started at the request, so a PENDING run is listed from the moment it is accepted;
-- - any other execution: its root span's first `workflow.execution.initiated` event (the view
--   below), with the deployment fields of a `WORKFLOW_RELEASE_TAG` parent context.
-- The view skips executions that are runs (their request is folded before their events: the
-- projection runner folds each batch's facts first). A log whose runs were folded only after
-- this migration's backfill may hold both rows of a run for a while; the list keeps the run's.
-- A root span initiated twice has a row per initiated event; the list keeps the one of the
-- first in the log (`execution_extent.initiated_position`), so an execution's place in the list
-- never moves once it is listed, and a walk through the pages meets it once.
CREATE TABLE IF NOT EXISTS execution_index
(
    workspace_id UUID,
    started_at DateTime64(6, 'UTC'),
    execution_id UUID,
    run UInt8,
    workflow String,
    deployment_id Nullable(UUID),
    deployment String,
    release_id Nullable(UUID),
    release_tag String,
    external_id Nullable(String),
    -- Top-level keys of the metadata object, each value as JSON text ('"acme"', '3', 'true').
    metadata Map(String, String),
    trace_id Nullable(UUID),
    -- Where the row's source is in the log: the run's request, or the initiated event.
    position UInt64,
    INDEX external_id_bloom external_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX trace_id_bloom trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX metadata_keys_bloom mapKeys(metadata) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX metadata_values_bloom mapValues(metadata) TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, started_at, execution_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS execution_index_mv TO execution_index AS
WITH JSONExtractRaw(payload, 'parent') AS parent,
     JSONExtractString(parent, 'type') = 'WORKFLOW_RELEASE_TAG' AS deployed
SELECT
    workspace_id,
    timestamp AS started_at,
    execution_id,
    0 AS run,
    JSONExtractString(payload, 'body', 'workflow_definition', 'name') AS workflow,
    if(deployed, toUUIDOrNull(JSONExtractString(parent, 'deployment_id')), NULL) AS deployment_id,
    if(deployed, JSONExtractString(parent, 'deployment_name'), '') AS deployment,
    if(deployed, toUUIDOrNull(JSONExtractString(parent, 'deployment_history_item_id')), NULL) AS release_id,
    if(deployed, JSONExtractString(parent, 'release_tag_name'), '') AS release_tag,
    if(deployed AND JSONType(parent, 'external_id') = 'String', JSONExtractString(parent, 'external_id'), NULL) AS external_id,
    CAST(
        if(deployed, JSONExtractKeysAndValuesRaw(parent, 'metadata'), []),
        'Map(String, String)'
    ) AS metadata,
    trace_id,
    position
FROM events
WHERE span_id = execution_id
  AND name = 'workflow.execution.initiated'
  AND execution_id NOT IN (
      SELECT execution_id FROM runs
      WHERE execution_id IN (SELECT execution_id FROM events) AND requested_at IS NOT NULL
  );

-- When each execution ended (its first terminal event of the root span, the one the outcome is
-- taken from) and how many spans it has: the list's end, duration and span count, and what
-- it orders and filters them by.
CREATE TABLE IF NOT EXISTS execution_extent
(
    workspace_id UUID,
    execution_id UUID,
    ended_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    span_count AggregateFunction(uniqExact, UUID),
    initiated_position SimpleAggregateFunction(min, Nullable(UInt64))
)
ENGINE = AggregatingMergeTree
ORDER BY (workspace_id, execution_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS execution_extent_mv TO execution_extent AS
SELECT
    workspace_id,
    execution_id,
    minIf(
        toNullable(timestamp),
        span_id = execution_id AND name IN ('workflow.execution.fulfilled', 'workflow.execution.rejected')
    ) AS ended_at,
    uniqExactState(span_id) AS span_count,
    minIf(toNullable(position), span_id = execution_id AND name = 'workflow.execution.initiated')
        AS initiated_position
FROM events
GROUP BY workspace_id, execution_id;

-- What the log held before this migration: the views' own SELECTs once more over the whole
-- tables (a view sees only what is inserted after it), and the runs' rows as
-- clickhouse/queries/index_runs.sql makes them. Only a log from before 0012 can hold runs whose
-- facts are not folded yet (the runner folds them afterwards and adds their rows then).
INSERT INTO execution_index
WITH JSONExtractRaw(payload, 'parent') AS parent,
     JSONExtractString(parent, 'type') = 'WORKFLOW_RELEASE_TAG' AS deployed
SELECT
    workspace_id,
    timestamp AS started_at,
    execution_id,
    0 AS run,
    JSONExtractString(payload, 'body', 'workflow_definition', 'name') AS workflow,
    if(deployed, toUUIDOrNull(JSONExtractString(parent, 'deployment_id')), NULL) AS deployment_id,
    if(deployed, JSONExtractString(parent, 'deployment_name'), '') AS deployment,
    if(deployed, toUUIDOrNull(JSONExtractString(parent, 'deployment_history_item_id')), NULL) AS release_id,
    if(deployed, JSONExtractString(parent, 'release_tag_name'), '') AS release_tag,
    if(deployed AND JSONType(parent, 'external_id') = 'String', JSONExtractString(parent, 'external_id'), NULL) AS external_id,
    CAST(
        if(deployed, JSONExtractKeysAndValuesRaw(parent, 'metadata'), []),
        'Map(String, String)'
    ) AS metadata,
    trace_id,
    position
FROM events
WHERE span_id = execution_id
  AND name = 'workflow.execution.initiated'
  AND execution_id NOT IN (SELECT execution_id FROM runs WHERE requested_at IS NOT NULL)
ORDER BY workspace_id, execution_id, position
LIMIT 1 BY workspace_id, execution_id;

INSERT INTO execution_index
SELECT
    r.workspace AS workspace_id,
    assumeNotNull(r.requested) AS started_at,
    r.execution_id,
    1 AS run,
    '' AS workflow,
    r.deployment_id,
    d.name AS deployment,
    r.release_id,
    ifNull(r.release_tag, '') AS release_tag,
    r.external_id,
    CAST(JSONExtractKeysAndValuesRaw(ifNull(r.metadata, '{}')), 'Map(String, String)') AS metadata,
    r.trace_id,
    assumeNotNull(r.request_position) AS position
FROM
(
    SELECT
        execution_id,
        assumeNotNull(any(workspace_id)) AS workspace,
        min(requested_at) AS requested,
        any(deployment_id) AS deployment_id,
        any(release_id) AS release_id,
        any(release_tag) AS release_tag,
        any(external_id) AS external_id,
        any(metadata) AS metadata,
        any(trace_id) AS trace_id,
        min(requested_position) AS request_position
    FROM runs
    GROUP BY execution_id
    HAVING requested IS NOT NULL
) AS r
LEFT JOIN (SELECT deployment_id, any(name) AS name FROM deployments GROUP BY deployment_id) AS d
    ON d.deployment_id = r.deployment_id;

INSERT INTO execution_extent
SELECT
    workspace_id,
    execution_id,
    minIf(
        toNullable(timestamp),
        span_id = execution_id AND name IN ('workflow.execution.fulfilled', 'workflow.execution.rejected')
    ) AS ended_at,
    uniqExactState(span_id) AS span_count,
    minIf(toNullable(position), span_id = execution_id AND name = 'workflow.execution.initiated')
        AS initiated_position
FROM events
GROUP BY workspace_id, execution_id
SETTINGS optimize_aggregation_in_order = 1;
