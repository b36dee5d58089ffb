-- How many spans each execution has in the projections, and how many of them `span_detail`
-- holds exactly once, at the keyset position `span_order` gives (runledger verify compares
-- both with the log: a span missing there, or under another position, is a span the detail
-- pages would leave out).
SELECT
    ordered.workspace_id,
    ordered.execution_id,
    count() AS spans,
    countIf(detailed.positions = [ordered.first_position]) AS detailed_spans
FROM
(
    SELECT workspace_id, execution_id, span_id, min(first_position) AS first_position
    FROM span_order
    GROUP BY workspace_id, execution_id, span_id
) AS ordered
LEFT JOIN
(
    SELECT workspace_id, execution_id, span_id, groupUniqArray(span_position) AS positions
    FROM span_detail
    GROUP BY workspace_id, execution_id, span_id
) AS detailed USING (workspace_id, execution_id, span_id)
GROUP BY ordered.workspace_id, ordered.execution_id
SETTINGS join_use_nulls = 0
