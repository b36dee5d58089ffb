-- The spans after the cursor's keyset position ({after}), at most {limit}, with their events,
-- and the span at {root_position}, where the root span sits as a rule (the execution's first
-- log position). GROUP BY is the table's sort key, so with optimize_aggregation_in_order
-- ClickHouse folds the rows as it reads them in order and stops at the LIMIT: a page costs the
-- same at any depth of any execution, with no statement of its own for the page's keys.
-- `payloads` holds each event once as (log position, timestamp, payload), sorted into log order.
SELECT
    span_position,
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
  AND (span_position > {after:UInt64} OR span_position = {root_position:UInt64})
GROUP BY workspace_id, execution_id, span_position, span_id
ORDER BY workspace_id, execution_id, span_position, span_id
LIMIT {limit:UInt32}
SETTINGS optimize_aggregation_in_order = 1
