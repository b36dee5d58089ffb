-- A page of an execution's history: its events with log positions strictly between `after`
-- and `before`, in log order (@DIRECTION@ is ASC or DESC), each with when it was received and
-- its payload as stored (a large value is a payload-store marker the reader puts back).
-- `events` is sorted by span within the execution, so a page reads the execution's granules
-- and sorts them by position; LIMIT 1 BY drops duplicates a re-applied batch left unmerged.
SELECT position, received_at, payload
FROM events
WHERE workspace_id = {workspace_id:UUID}
  AND execution_id = {execution_id:UUID}
  AND position > {after:UInt64}
  AND position < {before:UInt64}
ORDER BY position @DIRECTION@
LIMIT 1 BY position
LIMIT {limit:UInt32}
