-- The first and last times among some spans' events (snapshots left out, as span_detail.sql
-- leaves them out): for a page read without its values (span_steps.sql), the times of spans
-- whose initiated event is not visible yet, which span_detail.sql takes from the events it
-- reads. A point read of `events`' primary key per span.
SELECT span_id, min(timestamp) AS first_ts, max(timestamp) AS last_ts
FROM events
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND span_id IN {span_ids:Array(UUID)}
  AND name != 'workflow.execution.snapshotted'
GROUP BY span_id
