-- How many deployments a workspace has.
SELECT count()
FROM deployments FINAL
WHERE workspace_id = {workspace_id:UUID}
