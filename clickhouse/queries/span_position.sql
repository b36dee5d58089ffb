-- Where a span sits in its execution's keyset order (the `prev_span_id` cursor); no row when
-- the span is not of this execution.
SELECT min(first_position) AS first_position
FROM span_order
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID} AND span_id = {span_id:UUID}
GROUP BY span_id
