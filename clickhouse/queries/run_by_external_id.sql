-- The run an `external_id` names in a workspace (the runtime claims each external id once per
-- workspace: domain/runs.py), or no row. A scan of `runs` filtered on its two columns: runs
-- are few beside events.
SELECT execution_id
FROM runs
WHERE external_id = {external_id:String}
GROUP BY execution_id
HAVING any(workspace_id) = {workspace_id:UUID}
ORDER BY min(requested_position)
LIMIT 1
