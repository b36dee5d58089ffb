-- Every execution by the log position that listed it (0013's `execution_index.position`): its
-- run request, or its root span's first initiated event. The log gives a record one position,
-- once, and never another, so the position is a stable, unique integer id of the execution:
-- what a workspace sees of it is its number (domain/execution_numbers.py, a keyed permutation
-- of the position, so numbers say nothing of the log), which clients whose ids are integers
-- use (Datalab's `GET /api/v1/workflows/executions/{execution_id}`). Replay and a rebuilt
-- projection give the same positions. An execution gets its position when it is listed.
--
-- This table finds an execution by that position. It holds a row per index row; a root span
-- initiated twice has a row per initiated event, and a run a row for its request and none for
-- its events (0013's view skips runs), so a position names one execution, but an execution may
-- be named by a later position too: the read checks that the position it was given is the
-- execution's own (projections/views.py), so only the first is ever answered.
CREATE TABLE IF NOT EXISTS executions_by_position
(
    workspace_id UUID,
    position UInt64,
    execution_id UUID
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, position)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS executions_by_position_mv TO executions_by_position AS
SELECT workspace_id, position, execution_id
FROM execution_index;

-- What the index held before this migration (a view sees only what is inserted after it).
-- Running it again adds rows of the same keys, which the table's engine merges away.
INSERT INTO executions_by_position
SELECT workspace_id, position, execution_id
FROM execution_index;
