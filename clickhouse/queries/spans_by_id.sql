-- The folded state of the given spans of one execution.
SELECT
    span_id,
    any(kind) AS kind,
    any(parent_span_id) AS parent_span_id,
    any(label) AS label,
    any(definition_id) AS definition_id,
    min(start_ts) AS start_ts,
    max(end_ts) AS end_ts,
    argMinMerge(status) AS status,
    argMinMerge(inputs) AS inputs,
    argMinMerge(outputs) AS outputs,
    argMinMerge(error) AS error
FROM spans
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND span_id IN {span_ids:Array(UUID)}
GROUP BY span_id
