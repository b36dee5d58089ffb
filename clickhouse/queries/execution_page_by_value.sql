-- A page in the order of a value that changes as executions run (the value marker: the end, the
-- duration, the cost, as a Float64 exact for it). Executions without the value come last in
-- either direction; ties go by start, then id. the after marker is the keyset condition.
SELECT *, isNull(@VALUE@) AS missing, ifNull(@VALUE@, 0) AS sort_value
FROM (@ROWS@)
WHERE listed AND (@MATCH@) AND @AFTER@
ORDER BY missing ASC, sort_value @DIR@, started_at @DIR@, execution_id @DIR@
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
