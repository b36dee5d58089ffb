-- A detail page's header in one read: the execution's Prime summary (the columns of
-- execution_status.sql, in its order), its root span's parent context and newest snapshotted
-- state (0011), and its usage rows: one (span_id, usage_result) per span that reported usage
-- (span_usage holds no other). The detail sums them for the execution's totals and looks the
-- page's spans up in them. `count()` is 0 when the execution is unknown in the workspace.
-- `run` and `actuals` as in execution_status.sql; `initiated_position` is where the root span was
-- first initiated: where an execution the runtime did not run was listed (migration 0014).
SELECT
    count() AS row_count,
    min(first_position) AS first_position,
    min(started_at) AS started_at,
    max(last_event_at) AS last_event_at,
    max(streamed) AS streamed,
    argMinMerge(outcome) AS outcome,
    length(groupUniqArrayMerge(outcome_statuses)) AS outcome_status_count,
    argMinMerge(initiated).1 AS parent_context,
    argMaxMerge(snapshot).1 AS state,
    (
        SELECT groupArray((span_id, usage_result))
        FROM
        (
            SELECT span_id, argMinMerge(usage_result) AS usage_result
            FROM span_usage
            WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
            GROUP BY span_id
        )
    ) AS usage_rows,
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
        SELECT min(initiated_position)
        FROM execution_extent
        WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
    ) AS initiated_position,
    (
        SELECT groupArray((position, item, actual, timestamp))
        FROM actuals FINAL
        WHERE stream_id = {actuals_stream:UUID}
    ) AS actuals
FROM executions
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
