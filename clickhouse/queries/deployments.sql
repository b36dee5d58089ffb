-- A page of a workspace's deployments in the order the order marker names (projections/
-- deployments.py: by registration, name or newest release, each way; ties by registration).
-- `deployments` holds one row per deployment (0012).
SELECT d.deployment_id, d.name, d.registered_at
FROM deployments AS d FINAL
LEFT JOIN
(
    SELECT deployment_id, max(released_at) AS last_deployed_on
    FROM releases
    WHERE deployment_id IN (SELECT deployment_id FROM deployments WHERE workspace_id = {workspace_id:UUID})
    GROUP BY deployment_id
) AS r ON r.deployment_id = d.deployment_id
WHERE d.workspace_id = {workspace_id:UUID}
ORDER BY @ORDER@
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
