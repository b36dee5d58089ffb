-- Each span's usage result (span_usage's first), one row per span that reported one: its
-- models, each model's input and output tokens (arrays in the result's order), and its cost
-- (every `cost` entry's value summed, whatever its unit, as the list's cost is). The list sums
-- these per execution (execution_rows.sql fills its span-usage marker with this query), and
-- the dashboards' per-model view splits them per model (clickhouse/views/model_usage.sql), so
-- the token paths in a usage result are read here only. The in-chunk marker is the list's.
SELECT
    execution_id,
    span_id,
    JSONExtractArrayRaw(usage_result, 'usage') AS usage,
    arrayMap(m -> JSONExtractString(m, 'ml_model_name'), usage) AS models,
    arrayMap(m -> JSONExtractUInt(m, 'ml_model_usage', 'input_token_count'), usage) AS input_token_counts,
    arrayMap(m -> JSONExtractUInt(m, 'ml_model_usage', 'output_token_count'), usage) AS output_token_counts,
    arraySum(p -> JSONExtractFloat(p, 'value'), JSONExtractArrayRaw(usage_result, 'cost')) AS cost
FROM
(
    SELECT execution_id, span_id, argMinMerge(usage_result) AS usage_result
    FROM span_usage
    WHERE workspace_id = {workspace_id:UUID}
      AND @IN_CHUNK@
    GROUP BY execution_id, span_id
)
