-- Where a span sits in its execution's keyset order (the `prev_span_id` cursor): the lowest
-- log position of its events, which is where span_detail keys it (the projection follows the
-- log in order). A point read, as `events` is sorted by span; no row when the span is not of
-- this execution.
SELECT min(position) AS span_position
FROM events
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID} AND span_id = {span_id:UUID}
GROUP BY span_id
