-- The root span's context and latest state for the detail header, and the execution's usage
-- rows: one (span_id, usage_result) per span that reported usage (span_usage holds no other),
-- read here rather than in a query of their own to keep a page's round trips down. The detail
-- sums them for the execution's totals and looks the page's spans up in them.
SELECT
    argMinIf(JSONExtractRaw(payload, 'parent'), position, name = 'workflow.execution.initiated') AS parent_context,
    argMaxIf(JSONExtractRaw(payload, 'body', 'state'), tuple(timestamp, position), name = 'workflow.execution.snapshotted') AS state,
    (
        SELECT groupArray((span_id, usage_result))
        FROM
        (
            SELECT span_id, argMinMerge(usage_result) AS usage_result
            FROM span_usage
            WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
            GROUP BY span_id
        )
    ) AS usage_rows
FROM events
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID} AND span_id = {execution_id:UUID}
