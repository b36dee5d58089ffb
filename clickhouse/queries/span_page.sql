-- One keyset page of an execution's spans, in the order they were first seen in the log.
-- A range read on the primary key: the cost does not grow with the page's depth.
SELECT span_id, first_position
FROM span_order
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND first_position > {after:UInt64}
ORDER BY first_position, span_id
LIMIT 1 BY first_position, span_id
LIMIT {limit:UInt32}
