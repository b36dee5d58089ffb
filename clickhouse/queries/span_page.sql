-- One keyset page of an execution's spans, in the order they were first seen in the log.
-- A range read on the primary key, of its columns only: the cost does not grow with the page's
-- depth. A span's unmerged rows share its position, so LIMIT 1 BY keeps one.
SELECT span_id, span_position
FROM span_detail
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND span_position > {after:UInt64}
ORDER BY span_position, span_id
LIMIT 1 BY span_position, span_id
LIMIT {limit:UInt32}
