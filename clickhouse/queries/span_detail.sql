-- The spans after the cursor's keyset position ({after}), at most {limit}, with their events,
-- and the span at {root_position}, where the root span sits as a rule (the execution's first
-- log position). GROUP BY is the table's sort key, so with optimize_aggregation_in_order
-- ClickHouse folds the rows as it reads them in order and stops at the LIMIT: a page costs the
-- same at any depth of any execution, with no statement of its own for the page's keys.
-- Each span's events come as their payloads alone, in log order, with the first and last
-- timestamps among them (NULL when it has none): the reader takes them as they are, with no
-- per-event work of its own (a page of 1,000 spans holds about 3,000 events). arrayReduce
-- rather than arrayMin: older ClickHouse servers refuse arrayMin on DateTime64.
WITH arraySort(groupUniqArrayMerge(payloads)) AS ordered
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
    arrayMap(event -> event.3, ordered) AS events,
    if(empty(ordered), NULL, arrayReduce('min', arrayMap(event -> event.2, ordered))) AS first_ts,
    if(empty(ordered), NULL, arrayReduce('max', arrayMap(event -> event.2, ordered))) AS last_ts
FROM span_detail
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND (span_position > {after:UInt64} OR span_position = {root_position:UInt64})
GROUP BY workspace_id, execution_id, span_position, span_id
ORDER BY workspace_id, execution_id, span_position, span_id
LIMIT {limit:UInt32}
SETTINGS optimize_aggregation_in_order = 1
