-- An execution's resolved state: the newest `workflow.execution.snapshotted` of its root span
-- (latest timestamp, then latest log position) with the trace it ran in, and the links the SDK
-- puts on the initiated event of a run that continued from an earlier one
-- (`previous_execution_id`). `snapshot_at` is NULL when the root span has no snapshot. Merged
-- aggregate states of `executions` (0011): one row per execution, whatever its snapshots.
SELECT
    max(snapshot_at) AS snapshot_at,
    argMaxMerge(snapshot) AS snapshot,
    argMinMerge(initiated).2 AS initiated_links
FROM executions
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
