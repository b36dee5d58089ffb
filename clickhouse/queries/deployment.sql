-- One deployment of a workspace, by id or by name (a name is unique in its workspace).
SELECT deployment_id, name, registered_at
FROM deployments FINAL
WHERE workspace_id = {workspace_id:UUID}
  AND (deployment_id = {deployment_id:UUID} OR name = {name:String})
ORDER BY deployment_id = {deployment_id:UUID} DESC
LIMIT 1
