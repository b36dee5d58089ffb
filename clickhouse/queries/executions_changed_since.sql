-- The executions with an event logged after {head}: runledger verify folds the log up to the
-- head it read at the start, so their status and usage may rightly differ from the projections'.
SELECT workspace_id, execution_id
FROM executions
GROUP BY workspace_id, execution_id
HAVING max(last_position) > {head:UInt64}
