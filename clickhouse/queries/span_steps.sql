-- span_detail.sql without the spans' inputs, outputs and events: the same keyset page, for
-- reads that show a span's status, times and error and link to its values instead of carrying
-- them (Datalab's steps, Velt's with links). ClickHouse reads only the columns a statement
-- names, so a page costs the same whether the spans' outputs are bytes or megabytes. The
-- columns are span_detail.sql's, in its order, with inputs and outputs empty and no events.
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
    '' AS inputs,
    '' AS outputs,
    argMinMerge(error) AS error,
    CAST([], 'Array(String)') AS events,
    CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS first_ts,
    CAST(NULL, 'Nullable(DateTime64(6, \'UTC\'))') AS last_ts
FROM span_detail
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND (span_position > {after:UInt64} OR span_position = {root_position:UInt64})
GROUP BY workspace_id, execution_id, span_position, span_id
ORDER BY workspace_id, execution_id, span_position, span_id
LIMIT {limit:UInt32}
SETTINGS optimize_aggregation_in_order = 1
