-- Every span's usage_result in the projections (runledger verify compares with the log).
SELECT workspace_id, execution_id, span_id, argMinMerge(usage_result)
FROM span_usage
GROUP BY workspace_id, execution_id, span_id
