-- How many spans each execution has in the projections (runledger verify compares with the log).
SELECT workspace_id, execution_id, uniqExact(span_id)
FROM span_order
GROUP BY workspace_id, execution_id
