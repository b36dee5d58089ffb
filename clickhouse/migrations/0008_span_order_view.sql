-- Each span's keyset row, written by the `events` insert itself instead of a statement of the
-- runner's after it: a chDB statement costs about 6 ms per table it reads before any work, and
-- this one ran for every batch. In a materialized view, `events` names the inserted block
-- wherever it appears, so the block's executions restrict the anti-join to a primary-key prefix
-- of span_order. The block's lowest position of a span is where the log first saw it, since the
-- runner applies the log in order and a span seen by an earlier batch already has its row; a
-- batch inserted again after a crash finds the rows its first insert wrote, so nothing doubles.
-- The view must see a batch as one block: it does not reliably see the rows it wrote for an
-- earlier block of the same insert, so the store inserts with settings that squash a batch into
-- one block (ONE_BLOCK in projections/store.py until 2026-12-03, one Native block a batch since;
-- tests/projections/test_span_order.py).
CREATE MATERIALIZED VIEW IF NOT EXISTS span_order_mv TO span_order AS
SELECT workspace_id, execution_id, min(position) AS first_position, span_id
FROM events
WHERE (workspace_id, execution_id, span_id) NOT IN (
    SELECT workspace_id, execution_id, span_id
    FROM span_order
    WHERE (workspace_id, execution_id) IN (SELECT workspace_id, execution_id FROM events)
)
GROUP BY workspace_id, execution_id, span_id;
