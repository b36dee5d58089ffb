-- How many executions the filter keeps.
SELECT count()
FROM (@ROWS@)
WHERE listed AND (@MATCH@)
