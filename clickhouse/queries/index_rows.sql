-- The list's rows of ingested executions (not runs) from events up to `head`, and the ids of
-- the runs it lists: what `runledger verify` compares with its fold of the log.
SELECT
    workspace_id,
    execution_id,
    groupArrayIf((position, started_at, workflow), run = 0 AND position <= {head:UInt64}) AS rows,
    max(run) AS is_run
FROM execution_index
GROUP BY workspace_id, execution_id
