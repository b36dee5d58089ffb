-- Every execution's number: a stable integer id, for clients whose ids are integers (Datalab's
-- `GET /api/v1/workflows/executions/{execution_id}`), shown in the list and the detail too.
--
-- The number is the log position of the record that listed the execution (0013's
-- `execution_index.position`): its run request, or its root span's first initiated event. The
-- log gives each record one position, once, and never another, so a number is assigned once,
-- belongs to one execution of one workspace, and is never reused; replay and a rebuilt
-- projection give the same numbers. An execution gets its number when it is listed, at the
-- same moment, so every listed execution has one.
--
-- This table finds an execution by its number. It holds a row per index row; a root span
-- initiated twice has a row per initiated event, and a run a row for its request and none for
-- its events (0013's view skips runs), so a number names one execution, but an execution may be
-- named by a later number too: the read checks that the number it was given is the execution's
-- own (projections/views.py), so only the first is ever answered.
CREATE TABLE IF NOT EXISTS execution_numbers
(
    workspace_id UUID,
    number UInt64,
    execution_id UUID
)
ENGINE = ReplacingMergeTree
ORDER BY (workspace_id, number)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS execution_numbers_mv TO execution_numbers AS
SELECT workspace_id, position AS number, execution_id
FROM execution_index;

-- What the index held before this migration (a view sees only what is inserted after it).
-- Running it again adds rows of the same keys, which the table's engine merges away.
INSERT INTO execution_numbers
SELECT workspace_id, position AS number, execution_id
FROM execution_index;
