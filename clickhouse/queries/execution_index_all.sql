-- Every index row of the workspace that the filter's write-once part may match: what counts,
-- metrics and the orders other than by start read.
SELECT *
FROM execution_index
WHERE workspace_id = {workspace_id:UUID}
  AND (@PREFILTER@)
