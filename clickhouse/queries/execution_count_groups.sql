-- How many executions the filter keeps per value of the group marker, largest group first.
SELECT @GROUP@ AS group_value, count() AS execution_count
FROM (@ROWS@)
WHERE listed AND (@MATCH@)
GROUP BY group_value
ORDER BY execution_count DESC, group_value ASC
