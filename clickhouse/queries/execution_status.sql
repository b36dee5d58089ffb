-- The Prime summary of one execution. `count()` is 0 when the execution is unknown in the
-- workspace (an aggregate without GROUP BY always answers one row). `first_position`, the log
-- position of its first event, is where the detail looks for its root span first. `run` is the
-- runtime's record of the execution when the runtime made it (its workspace NULL otherwise:
-- 0012's `runs`), `actuals` every actual submitted for it (`actuals_stream` is the stream id
-- domain/actuals.py derives from the workspace and execution): one statement, since each
-- statement's planning is most of a small read's cost in chDB (bench/README.md).
SELECT
    count() AS row_count,
    min(first_position) AS first_position,
    min(started_at) AS started_at,
    max(last_event_at) AS last_event_at,
    max(streamed) AS streamed,
    argMinMerge(outcome) AS outcome,
    length(groupUniqArrayMerge(outcome_statuses)) AS outcome_status_count,
    (
        SELECT tuple(
            any(workspace_id), min(requested_at), min(started_at), any(finished_status),
            any(cancel_requested), any(inputs), any(deployment_id), any(release_id),
            any(release_tag), any(external_id), any(metadata), min(requested_position)
        )
        FROM runs
        WHERE execution_id = {execution_id:UUID}
    ) AS run,
    (
        SELECT groupArray((position, item, actual, timestamp))
        FROM actuals FINAL
        WHERE stream_id = {actuals_stream:UUID}
    ) AS actuals
FROM executions
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
