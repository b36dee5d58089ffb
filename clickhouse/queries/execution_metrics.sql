-- A time series of the executions the filter keeps, started in [from, to): per bucket of
-- the interval marker's length (by start) and per value of the group marker, how many there
-- were and how they ended, the quantiles of their durations (of those that ended), and their
-- tokens and cost. Buckets without executions are left out.
SELECT
    toStartOfInterval(started_at, INTERVAL 1 @INTERVAL@) AS bucket,
    @GROUP@ AS group_value,
    count() AS execution_count,
    countIf(status = 'FULFILLED') AS fulfilled_count,
    countIf(status = 'REJECTED') AS rejected_count,
    quantilesExactIf(0.5, 0.9, 0.99)(duration_ms, duration_ms IS NOT NULL) AS durations,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cost) AS cost
FROM (@ROWS@)
WHERE listed AND (@MATCH@)
GROUP BY bucket, group_value
ORDER BY bucket ASC, group_value ASC
