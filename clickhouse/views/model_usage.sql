-- `model_usage(workspace_id = '…')`: per listed execution, one row per model each of its spans
-- reported (span_usage_rows.sql, the span-usage marker), with the execution's start, workflow
-- and status from the list's rows (the rows marker): tokens and cost per model over time.
--
-- A usage result has tokens per model but one cost per span (Vellum's `cost` entries name no
-- model), so a span of several models splits its cost between them in proportion to their
-- tokens (input + output), evenly when none has tokens; a span that names no model keeps its
-- cost under the model ''. Each span's shares sum to its cost, so a workspace's or an
-- execution's cost here is the list's.
CREATE OR REPLACE VIEW model_usage AS
SELECT
    u.execution_id AS execution_id,
    l.started_at AS started_at,
    l.workflow AS workflow,
    l.status AS status,
    u.span_id AS span_id,
    u.entry.1 AS model,
    u.entry.2 AS input_tokens,
    u.entry.3 AS output_tokens,
    u.entry.4 AS cost
FROM
(
    SELECT
        execution_id,
        span_id,
        if(empty(models), [''], models) AS entry_models,
        if(empty(models), [toUInt64(0)], input_token_counts) AS entry_inputs,
        if(empty(models), [toUInt64(0)], output_token_counts) AS entry_outputs,
        arrayMap((i, o) -> i + o, entry_inputs, entry_outputs) AS entry_tokens,
        arraySum(entry_tokens) AS span_tokens,
        arrayMap(
            t -> if(span_tokens = 0, cost / length(entry_tokens), cost * t / span_tokens),
            entry_tokens
        ) AS entry_costs,
        arrayJoin(arrayZip(entry_models, entry_inputs, entry_outputs, entry_costs)) AS entry
    FROM (@SPAN_USAGE@)
) AS u
INNER JOIN
(
    SELECT execution_id, started_at, workflow, status
    FROM (@ROWS@)
    WHERE listed
) AS l ON l.execution_id = u.execution_id
