-- A page of an execution's spans with their events, and its root span: one range read over
-- the page's keyset positions ({first} to {last}) and the root's. `payloads` holds each event
-- once as (log position, timestamp, payload), sorted here into log order.
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
    argMinMerge(error) AS error,
    arraySort(groupUniqArrayMerge(payloads)) AS payloads
FROM span_detail
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND (
    span_position BETWEEN {first:UInt64} AND {last:UInt64}
    OR span_position IN (
        SELECT span_position
        FROM span_detail
        WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
          AND span_id = {execution_id:UUID}
    )
  )
GROUP BY span_id
