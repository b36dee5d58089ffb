-- A page of a workspace's deployments, oldest first (the log position of each registration).
-- `deployments` holds one row per deployment (0012).
SELECT deployment_id, name, registered_at
FROM deployments FINAL
WHERE workspace_id = {workspace_id:UUID}
ORDER BY position
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
