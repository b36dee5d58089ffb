-- Every span's keyset positions in the projections, of the spans first seen up to {head}: one
-- each, unless something went wrong (runledger verify compares them with where the log first
-- saw each span).
SELECT workspace_id, execution_id, span_id, groupUniqArray(span_position) AS positions
FROM span_detail
GROUP BY workspace_id, execution_id, span_id
HAVING min(span_position) <= {head:UInt64}
