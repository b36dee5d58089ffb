-- The execution listed at a log position in a workspace (migration 0014): a point read of the
-- table's primary key. No row when no execution was listed there.
SELECT execution_id
FROM executions_by_position
WHERE workspace_id = {workspace_id:UUID} AND position = {position:UInt64}
LIMIT 1
