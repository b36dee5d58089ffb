-- The root span's context and latest state for the detail header.
SELECT
    argMinIf(JSONExtractRaw(payload, 'parent'), position, name = 'workflow.execution.initiated') AS parent_context,
    argMaxIf(JSONExtractRaw(payload, 'body', 'state'), tuple(timestamp, position), name = 'workflow.execution.snapshotted') AS state
FROM events
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID} AND span_id = {execution_id:UUID}
