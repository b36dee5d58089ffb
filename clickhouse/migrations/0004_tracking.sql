-- How far each projection has followed the log. One row per applied batch, written after the
-- batch's data; a restart resumes from the highest position (NOTES.md: effectively once).
CREATE TABLE IF NOT EXISTS tracking
(
    projection_name LowCardinality(String),
    position UInt64,
    recorded_at DateTime64(6, 'UTC') DEFAULT now64(6)
)
ENGINE = ReplacingMergeTree
ORDER BY (projection_name, position);
