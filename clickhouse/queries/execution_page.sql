-- The rows of a chunk of a page in start order (projections/listing.py) that the list shows:
-- listed and kept by the filter. The chunk's keys (execution_index_keys.sql) carry the order,
-- so only the rows a page shows cross the wire, however few the filter keeps.
SELECT *
FROM (@ROWS@)
WHERE listed AND (@MATCH@)
ORDER BY started_at @DIR@, execution_id @DIR@
