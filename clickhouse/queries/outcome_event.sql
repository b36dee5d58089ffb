-- The id of the event that decided an execution's outcome: its root span's earliest terminal
-- event by (timestamp, event id), the order in which the `executions` view's argMin picks the
-- outcome. A range of `events`' sort key (workspace, execution, span).
SELECT event_id
FROM events
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND span_id = {execution_id:UUID}
  AND name IN ('workflow.execution.fulfilled', 'workflow.execution.rejected')
ORDER BY timestamp, event_id
LIMIT 1
