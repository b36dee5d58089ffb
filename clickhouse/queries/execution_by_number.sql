-- The execution a number names in a workspace (migration 0014): a point read of the table's
-- primary key. No row when no execution has that number.
SELECT execution_id
FROM execution_numbers
WHERE workspace_id = {workspace_id:UUID} AND number = {number:UInt64}
LIMIT 1
