-- `otel_traces`: every span, however it arrived (Vellum events, OTLP, the runtime's runs), in
-- the columns and types of the OpenTelemetry Collector ClickHouse exporter's traces table, so
-- the queries written for that exporter (Grafana's ClickHouse data source among them) run here
-- unchanged; and `otel_traces_trace_id_ts`, its lookup of a trace's time range by trace id.
--
-- A span's row is written when it ends, from its terminal event (`*.fulfilled`, `*.rejected`):
-- - a span that came over OTLP carries everything in its terminal event's `body.otel`
--   (domain/otel_mapping.py): ids, times, kind, attributes, resource, scope, status, events,
--   links. The workflow events of an OTLP trace's root copy that root's node span, and say so
--   in their own `body.otel`: they write no row, so each OTLP span is one row;
-- - a span told as Vellum events: its trace and span ids as hex (32 digits: Vellum's ids are
--   UUIDs), its start from its initiated event (in the same batch, else from `span_detail`,
--   which earlier batches filled; a span whose initiated event arrives after its end has its
--   end as its start), kind Internal, status Ok or Error with the error's message, service
--   `runledger`, and the node's or workflow's definition id in its attributes.
-- Every row's resource attributes also name its workspace and execution
-- (`runledger.workspace_id`, `runledger.execution_id`): Grafana reads every workspace's spans,
-- and a dashboard filters by them. Kind and status are written as the exporter writes them
-- (`Internal`, `Server`, ...; `Unset`, `Ok`, `Error`).
--
-- Differences from the exporter's table, none of them in a column: no partitioning by day (a
-- batch of events from more than a hundred days would be refused whole, stopping the
-- projection), no TTL (retention is the log's business), and ReplacingMergeTree sorted by the
-- span at the end, so a batch applied twice (a crash between data and tracking) leaves one
-- row per span once merged. Times outside DateTime64(9)'s range (1900-2262: ingest stores what
-- it is given) are clamped to it.
CREATE TABLE IF NOT EXISTS otel_traces
(
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp, TraceId, SpanId)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts
(
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
)
ENGINE = AggregatingMergeTree
ORDER BY (TraceId)
SETTINGS index_granularity = 8192;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv TO otel_traces_trace_id_ts AS
SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM otel_traces
WHERE TraceId != ''
GROUP BY TraceId;

-- The rows of a block of `events` (the view's source: `events` below names the inserted
-- block). `started` is each span's start for Vellum-told spans: its initiated event in the
-- block, else the start `span_detail` holds from earlier batches (join_use_nulls pinned off:
-- a span without one joins with found = 0).
CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_mv TO otel_traces AS
WITH
    -- The Vellum-told spans the block ends without their initiated event: only these are
    -- looked up in `span_detail` (as a rule none: a batch holds a span's whole life), so an
    -- empty set reads no granule of it.
    unstarted AS
    (
        SELECT workspace_id, execution_id, span_id
        FROM events
        WHERE (endsWith(name, '.fulfilled') OR endsWith(name, '.rejected'))
          AND NOT JSONHas(payload, 'body', 'otel')
          AND (workspace_id, execution_id, span_id) NOT IN
              (SELECT workspace_id, execution_id, span_id FROM events WHERE endsWith(name, '.initiated'))
    ),
    JSONHas(payload, 'body', 'otel') AS otlp,
    'Map(LowCardinality(String), String)' AS map_type,
    9223372036854775 AS max_micros,
    toInt64(least(JSONExtract(payload, 'body', 'otel', 'start_time_unix_nano', 'UInt64'), 9223372036854775807)) AS otlp_start,
    toInt64(least(JSONExtract(payload, 'body', 'otel', 'end_time_unix_nano', 'UInt64'), 9223372036854775807)) AS otlp_end,
    greatest(least(toUnixTimestamp64Micro(if(started.found = 1, started.start, e.timestamp)), max_micros), -max_micros) AS vellum_start,
    greatest(least(toUnixTimestamp64Micro(e.timestamp), max_micros), -max_micros) AS vellum_end,
    JSONExtractRaw(payload, 'body', 'otel') AS otel
SELECT
    fromUnixTimestamp64Nano(if(otlp, otlp_start, vellum_start * 1000), 'UTC') AS Timestamp,
    if(otlp, JSONExtractString(otel, 'trace_id'), replaceAll(toString(e.trace_id), '-', '')) AS TraceId,
    if(otlp, JSONExtractString(otel, 'span_id'), replaceAll(toString(e.span_id), '-', '')) AS SpanId,
    if(
        otlp,
        JSONExtractString(otel, 'parent_span_id'),
        if(isNull(e.parent_span_id), '', replaceAll(toString(e.parent_span_id), '-', ''))
    ) AS ParentSpanId,
    if(otlp, JSONExtractString(otel, 'trace_state'), '') AS TraceState,
    if(
        otlp,
        JSONExtractString(otel, 'name'),
        if(
            startsWith(e.name, 'workflow.'),
            JSONExtractString(payload, 'body', 'workflow_definition', 'name'),
            JSONExtractString(payload, 'body', 'node_definition', 'name')
        )
    ) AS SpanName,
    if(otlp, initcap(lower(replaceOne(JSONExtractString(otel, 'kind'), 'SPAN_KIND_', ''))), 'Internal') AS SpanKind,
    if(otlp, JSONExtractString(otel, 'resource', 'attributes', 'service.name'), 'runledger') AS ServiceName,
    mapUpdate(
        if(otlp, CAST(arrayMap(kv -> (kv.1, if(JSONType(kv.2) = 'String', JSONExtractString(kv.2), kv.2)), JSONExtractKeysAndValuesRaw(JSONExtractRaw(otel, 'resource', 'attributes'))), map_type), CAST(map(), map_type)),
        CAST(map('runledger.workspace_id', toString(e.workspace_id), 'runledger.execution_id', toString(e.execution_id)), map_type)
    ) AS ResourceAttributes,
    if(otlp, JSONExtractString(otel, 'scope', 'name'), '') AS ScopeName,
    if(otlp, JSONExtractString(otel, 'scope', 'version'), '') AS ScopeVersion,
    if(
        otlp,
        CAST(arrayMap(kv -> (kv.1, if(JSONType(kv.2) = 'String', JSONExtractString(kv.2), kv.2)), JSONExtractKeysAndValuesRaw(JSONExtractRaw(otel, 'attributes'))), map_type),
        CAST(
            map(
                'vellum.span_kind', if(startsWith(e.name, 'workflow.'), 'workflow.execution', 'node.execution'),
                'vellum.definition_id', if(
                    startsWith(e.name, 'workflow.'),
                    JSONExtractString(payload, 'body', 'workflow_definition', 'id'),
                    JSONExtractString(payload, 'body', 'node_definition', 'id')
                )
            ),
            map_type
        )
    ) AS SpanAttributes,
    toUInt64(greatest(if(otlp, otlp_end - otlp_start, (vellum_end - vellum_start) * 1000), 0)) AS Duration,
    if(
        otlp,
        initcap(lower(replaceOne(JSONExtractString(otel, 'status', 'code'), 'STATUS_CODE_', ''))),
        if(endsWith(e.name, '.fulfilled'), 'Ok', 'Error')
    ) AS StatusCode,
    if(
        otlp,
        JSONExtractString(otel, 'status', 'message'),
        JSONExtractString(payload, 'body', 'error', 'message')
    ) AS StatusMessage,
    arrayMap(
        event -> fromUnixTimestamp64Nano(toInt64(least(JSONExtract(event, 'time_unix_nano', 'UInt64'), 9223372036854775807)), 'UTC'),
        JSONExtractArrayRaw(otel, 'events')
    ) AS `Events.Timestamp`,
    arrayMap(event -> JSONExtractString(event, 'name'), JSONExtractArrayRaw(otel, 'events')) AS `Events.Name`,
    arrayMap(
        event -> CAST(arrayMap(kv -> (kv.1, if(JSONType(kv.2) = 'String', JSONExtractString(kv.2), kv.2)), JSONExtractKeysAndValuesRaw(JSONExtractRaw(event, 'attributes'))), map_type),
        JSONExtractArrayRaw(otel, 'events')
    ) AS `Events.Attributes`,
    arrayMap(link -> JSONExtractString(link, 'trace_id'), JSONExtractArrayRaw(otel, 'links')) AS `Links.TraceId`,
    arrayMap(link -> JSONExtractString(link, 'span_id'), JSONExtractArrayRaw(otel, 'links')) AS `Links.SpanId`,
    arrayMap(link -> JSONExtractString(link, 'trace_state'), JSONExtractArrayRaw(otel, 'links')) AS `Links.TraceState`,
    arrayMap(
        link -> CAST(arrayMap(kv -> (kv.1, if(JSONType(kv.2) = 'String', JSONExtractString(kv.2), kv.2)), JSONExtractKeysAndValuesRaw(JSONExtractRaw(link, 'attributes'))), map_type),
        JSONExtractArrayRaw(otel, 'links')
    ) AS `Links.Attributes`
FROM events AS e
LEFT JOIN
(
    SELECT workspace_id, execution_id, span_id, min(start) AS start, 1 AS found
    FROM
    (
        SELECT workspace_id, execution_id, span_id, timestamp AS start
        FROM events
        WHERE endsWith(name, '.initiated')
        UNION ALL
        SELECT workspace_id, execution_id, span_id, assumeNotNull(start_ts) AS start
        FROM span_detail
        WHERE (workspace_id, execution_id) IN (SELECT workspace_id, execution_id FROM unstarted)
          AND span_id IN (SELECT span_id FROM unstarted)
          AND start_ts IS NOT NULL
    )
    GROUP BY workspace_id, execution_id, span_id
) AS started ON started.workspace_id = e.workspace_id AND started.execution_id = e.execution_id AND started.span_id = e.span_id
WHERE (endsWith(e.name, '.fulfilled') OR endsWith(e.name, '.rejected'))
  AND NOT (startsWith(e.name, 'workflow.') AND otlp)
SETTINGS join_use_nulls = 0;
