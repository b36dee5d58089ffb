-- The keyset rows of a batch's spans that have none yet, derived inside ClickHouse from the
-- `events` rows the batch has just inserted, rather than looked up and sent from Python: one
-- statement per batch, and no span keys rendered as text. A span's lowest position in the
-- batch is where the log first saw it: a span already seen by an earlier batch has its row.
-- The executions restrict both reads to a primary-key prefix. The anti-join is not restricted
-- by position: a batch applied again after a crash finds the rows it wrote the first time.
INSERT INTO span_order (workspace_id, execution_id, first_position, span_id)
SELECT workspace_id, execution_id, min(position), span_id
FROM events
WHERE workspace_id IN {workspace_ids:Array(UUID)}
  AND execution_id IN {execution_ids:Array(UUID)}
  AND position BETWEEN {first:UInt64} AND {last:UInt64}
  AND (workspace_id, execution_id, span_id) NOT IN (
      SELECT workspace_id, execution_id, span_id
      FROM span_order
      WHERE workspace_id IN {workspace_ids:Array(UUID)}
        AND execution_id IN {execution_ids:Array(UUID)}
  )
GROUP BY workspace_id, execution_id, span_id
