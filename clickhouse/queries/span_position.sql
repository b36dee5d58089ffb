-- Where a span sits in its execution's keyset order (the `prev_span_id` cursor); no row when
-- the span is not of this execution.
SELECT min(span_position) AS span_position
FROM span_detail
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID} AND span_id = {span_id:UUID}
GROUP BY span_id
