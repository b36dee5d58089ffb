-- A chunk of a page in start order (projections/listing.py): every row of the chunk, in the
-- page's order, with whether the filter keeps it, so the next chunk starts after the last.
SELECT *, (@MATCH@) AS matched
FROM (@ROWS@)
ORDER BY started_at @DIR@, execution_id @DIR@
