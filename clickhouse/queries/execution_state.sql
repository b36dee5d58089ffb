-- An execution's resolved state: the newest `workflow.execution.snapshotted` of its root span
-- (latest timestamp, then latest log position), the trace it ran in, and the links the SDK puts
-- on the initiated event of a run that continued from an earlier one (`previous_execution_id`).
-- Aggregates over the root span's rows, so unmerged duplicate rows change nothing.
SELECT
    countIf(name = 'workflow.execution.snapshotted') AS snapshot_count,
    argMaxIf(JSONExtractRaw(payload, 'body', 'state'), tuple(timestamp, position), name = 'workflow.execution.snapshotted') AS snapshot_state,
    argMaxIf(trace_id, tuple(timestamp, position), name = 'workflow.execution.snapshotted') AS snapshot_trace_id,
    maxIf(timestamp, name = 'workflow.execution.snapshotted') AS snapshot_at,
    argMinIf(JSONExtractRaw(payload, 'links'), position, name = 'workflow.execution.initiated') AS initiated_links
FROM events
WHERE workspace_id = {workspace_id:UUID}
    AND execution_id = {execution_id:UUID}
    AND span_id = {execution_id:UUID}
