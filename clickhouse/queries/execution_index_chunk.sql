-- The index rows of one chunk, by the keys execution_index_keys.sql found: a range of the
-- primary key, narrowed to the chunk's ids.
SELECT *
FROM execution_index
WHERE workspace_id = {workspace_id:UUID}
  AND started_at BETWEEN {chunk_low:DateTime64(6, 'UTC')} AND {chunk_high:DateTime64(6, 'UTC')}
  AND execution_id IN {chunk_ids:Array(UUID)}
