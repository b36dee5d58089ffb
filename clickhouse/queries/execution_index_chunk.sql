-- One chunk of a page: the next index rows after the cursor, in the page's order, that the
-- filter's write-once part may match (the prefilter marker). the after marker is the keyset condition, with
-- a plain bound on `started_at` that the primary key serves; the dir marker is ASC or DESC.
SELECT *
FROM execution_index
WHERE workspace_id = {workspace_id:UUID}
  AND @AFTER@
  AND (@PREFILTER@)
ORDER BY started_at @DIR@, execution_id @DIR@
LIMIT {chunk_rows:UInt32}
