-- The keys of one chunk of a page: the next index rows after the cursor, in the page's order,
-- that the filter's write-once part may match (the prefilter marker). The after marker is the
-- keyset condition, with a plain bound on `started_at` that the primary key serves; the dir
-- marker is ASC or DESC. Only the keys: the chunk's rows are then read by them
-- (execution_index_chunk.sql), so this scan runs once however many tables the rows join.
SELECT started_at, execution_id
FROM execution_index
WHERE workspace_id = {workspace_id:UUID}
  AND @AFTER@
  AND (@PREFILTER@)
ORDER BY started_at @DIR@, execution_id @DIR@
LIMIT {chunk_rows:UInt32}
