-- Which of the given spans already have their keyset row: the projection runner writes a
-- span's order row only at its first sight.
SELECT toString(workspace_id), toString(execution_id), toString(span_id)
FROM span_order
WHERE (workspace_id, execution_id, span_id) IN {keys:Array(Tuple(UUID, UUID, UUID))}
