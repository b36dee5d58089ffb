-- The index rows of one chunk, by the keys execution_index_keys.sql found: a range of the
-- primary key, narrowed to the chunk's ids. Times pass as microseconds since the epoch: a
-- stored time outside DateTime64's calendar range (ingest stores the ticks it is given) has no
-- text form ClickHouse parses back, but its ticks compare exactly.
SELECT *
FROM execution_index
WHERE workspace_id = {workspace_id:UUID}
  AND started_at BETWEEN fromUnixTimestamp64Micro({chunk_low:Int64}, 'UTC')
                     AND fromUnixTimestamp64Micro({chunk_high:Int64}, 'UTC')
  AND execution_id IN {chunk_ids:Array(UUID)}
