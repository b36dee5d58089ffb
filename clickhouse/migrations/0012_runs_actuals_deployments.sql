-- What the runtime and the API record as aggregates in the log (runs, actuals, deployments and
-- their releases) is projected here like every received event, so that every read a user
-- makes is a read of ClickHouse (one read side: status, detail, lists and dashboards agree by
-- construction). The projection runner folds these tables from the aggregates' events
-- (projections/facts.py), in log order, a batch at a time; they follow their own tracking
-- row (`facts`), so a log that held aggregates before this migration is folded from its start.
-- Every table is idempotent under replay: aggregate states of any/min/max, or rows keyed by
-- the log position they came from.

-- One row of states per run (its id is the execution's): the request (deployment, release,
-- tag, inputs, external id, metadata), whether a worker started it, a cancel made while it
-- waited, and how it finished. Only the request carries the workspace; every value that a
-- later event does not know is NULL, which `any` skips.
CREATE TABLE IF NOT EXISTS runs
(
    execution_id UUID,
    workspace_id SimpleAggregateFunction(any, Nullable(UUID)),
    deployment_id SimpleAggregateFunction(any, Nullable(UUID)),
    release_id SimpleAggregateFunction(any, Nullable(UUID)),
    release_tag SimpleAggregateFunction(any, Nullable(String)),
    external_id SimpleAggregateFunction(any, Nullable(String)),
    metadata SimpleAggregateFunction(any, Nullable(String)),
    inputs SimpleAggregateFunction(any, Nullable(String)) CODEC(ZSTD(3)),
    previous_execution_id SimpleAggregateFunction(any, Nullable(UUID)),
    replica SimpleAggregateFunction(any, Nullable(String)),
    requested_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    requested_position SimpleAggregateFunction(min, Nullable(UInt64)),
    started_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC'))),
    trace_id SimpleAggregateFunction(any, Nullable(UUID)),
    cancel_requested SimpleAggregateFunction(any, Nullable(String)),
    finished_status SimpleAggregateFunction(any, Nullable(String)),
    finished_at SimpleAggregateFunction(min, Nullable(DateTime64(6, 'UTC')))
)
ENGINE = AggregatingMergeTree
ORDER BY execution_id
SETTINGS index_granularity = 256;

-- Which execution an actuals stream is of (its first event says; the later ones do not).
CREATE TABLE IF NOT EXISTS actuals_streams
(
    stream_id UUID,
    workspace_id UUID,
    execution_id UUID
)
ENGINE = ReplacingMergeTree
ORDER BY stream_id;

-- Every actual submitted, one row each, keyed by where it is in the log: the newest per output
-- is picked at read time (by its timestamp, then by submission order), as `Actuals.latest`.
CREATE TABLE IF NOT EXISTS actuals
(
    stream_id UUID,
    position UInt64,
    item UInt32,
    actual String,
    timestamp Float64
)
ENGINE = ReplacingMergeTree
ORDER BY (stream_id, position, item);

-- Deployments and their releases, in release order; which release a tag names today (the
-- newest that carries it; LATEST the newest of all) is decided at read time.
CREATE TABLE IF NOT EXISTS deployments
(
    deployment_id UUID,
    workspace_id UUID,
    name String,
    registered_at DateTime64(6, 'UTC'),
    position UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY deployment_id;

CREATE TABLE IF NOT EXISTS releases
(
    deployment_id UUID,
    position UInt64,
    release_id UUID,
    entrypoint String,
    tags Array(String),
    timeout_seconds Nullable(Float64),
    description Nullable(String),
    released_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (deployment_id, position, release_id);
