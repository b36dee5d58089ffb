-- The events of the given spans, in log order. Snapshots are left out: they carry the whole
-- workflow state (hundreds of KB each, thousands per run); the detail's `state` has the latest.
SELECT span_id, min(timestamp) AS first_ts, max(timestamp) AS last_ts, groupArray(payload) AS payloads
FROM
(
    SELECT span_id, position, timestamp, payload
    FROM events
    WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
      AND span_id IN {span_ids:Array(UUID)} AND name != 'workflow.execution.snapshotted'
    ORDER BY span_id, position
    LIMIT 1 BY span_id, position
)
GROUP BY span_id
