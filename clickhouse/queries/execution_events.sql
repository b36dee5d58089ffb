-- Every recorded event of an execution in log order, as it was sent: what a repeated streaming
-- request (same external_id, same body) streams again. LIMIT 1 BY drops unmerged duplicates.
SELECT payload
FROM events
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
ORDER BY position
LIMIT 1 BY position
