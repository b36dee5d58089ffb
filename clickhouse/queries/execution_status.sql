-- The Prime summary of one execution. `count()` is 0 when the execution is unknown in the
-- workspace (an aggregate without GROUP BY always answers one row). `first_position`, the log
-- position of its first event, is where the detail looks for its root span first.
SELECT
    count() AS row_count,
    min(first_position) AS first_position,
    min(started_at) AS started_at,
    max(last_event_at) AS last_event_at,
    max(streamed) AS streamed,
    argMinMerge(outcome) AS outcome,
    length(groupUniqArrayMerge(outcome_statuses)) AS outcome_status_count
FROM executions
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
