-- The `execution_index` rows of runs just requested (projections/store.py, after their facts'
-- rows are in `runs`): listed from their request on, with their deployment's name.
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
    WHERE execution_id IN {execution_ids:Array(UUID)}
    GROUP BY execution_id
    HAVING requested IS NOT NULL
) AS r
LEFT JOIN
(
    SELECT deployment_id, any(name) AS name
    FROM deployments
    WHERE deployment_id IN (
        SELECT deployment_id FROM runs WHERE execution_id IN {execution_ids:Array(UUID)}
    )
    GROUP BY deployment_id
) AS d ON d.deployment_id = r.deployment_id
