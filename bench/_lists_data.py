"""A million executions for the lists part, made inside ClickHouse in a few large inserts.

Each execution is the events the Vellum SDK would send for it (the wire shape of
bench/_synthetic.py and tests/executions.py), written into `events` by one
`INSERT INTO events SELECT … FROM numbers()` per chunk, so the materialized views build
`executions`, `execution_index`, `execution_extent` and `span_usage` exactly as they do from
the projection runner's inserts. Execution `n` (a deterministic hash `h` of it picks the rest):

- a root `workflow.execution.initiated` at `BASE + n * SPAN_DAYS / count`, of workflow
  `wf<h % 10>`, whose parent is a `WORKFLOW_RELEASE_TAG` context of deployment `deploy-wf<k>`
  (tag `production`) with external id `order-<n>` and metadata
  `{"customer": "c<h / 30 % 1000>", "tier": <h / 30000 % 4>}`;
- for one execution in ten, a node span (initiated, then fulfilled with a `usage_result`:
  one model, tokens, a cost in USD);
- an outcome by `h / 10 % 3`: fulfilled, rejected (with an error whose message holds the word
  `RARE_WORD` for one rejected execution in a hundred, `h / 120000 % 100 = 0`) or none (still
  running), 250 ms to 5.25 s after the start.

Log positions are `4n + k + 1` (k the event's place in the execution), unique and in order.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import orjson

from domain.envelope import Envelope, validate_event
from projections.migrations import apply_migrations

BASE = "2026-11-23 00:00:00"
SPAN_DAYS = 5
WORKFLOWS = 10
CUSTOMERS = 1000
RARE_WORD = "quota"
# One workflow's deployment, release and tag ids: fixed per workflow, so filters on them work.
_DEPLOYMENT_ID = "5f1c2a3e-0000-4000-8000-0000000000"

_INSERT = """
INSERT INTO events
    (workspace_id, execution_id, span_id, position, event_id, name, parent_span_id, trace_id,
     timestamp, received_at, payload)
SELECT
    {workspace_id:UUID}, ex, if(k IN (1, 2), node, ex), n * 4 + k + 1, generateUUIDv4(n * 8 + k),
    event_name, if(k IN (1, 2), toNullable(ex), NULL), trace, at, at + toIntervalMillisecond(3),
    concat(
        '{"id":"', toString(generateUUIDv4(n * 8 + k + 4)), '","name":"', event_name,
        '","timestamp":"', formatDateTime(at, '%Y-%m-%dT%H:%i:%S.%fZ'),
        '","api_version":"2024-10-25","trace_id":"', toString(trace),
        '","span_id":"', toString(if(k IN (1, 2), node, ex)), '","parent":',
        if(k IN (1, 2),
           concat('{"type":"WORKFLOW","span_id":"', toString(ex), '","workflow_definition":',
                  definition, ',"parent":', release, '}'),
           release),
        ',"links":null,"body":',
        multiIf(
            k = 0, concat('{"workflow_definition":', definition,
                          ',"inputs":{"question":"run ', toString(n), '"}}'),
            k = 1, concat('{"node_definition":', node_definition, ',"inputs":{}}'),
            k = 2, concat('{"node_definition":', node_definition, ',"outputs":{},',
                          '"usage_result":{"usage":[{"ml_model_name":"gpt-4o","ml_model_usage":',
                          '{"input_token_count":', toString(100 + h % 900),
                          ',"output_token_count":', toString(10 + h % 90), '}}],',
                          '"cost":[{"value":', toString((100 + h % 900) / 100000),
                          ',"unit":"USD"}]}}'),
            outcome = 0, concat('{"workflow_definition":', definition,
                                ',"outputs":{"answer":"run ', toString(n), ' is done"}}'),
            concat('{"workflow_definition":', definition, ',"error":{"message":"', workflow,
                   ' failed: ', if(intDiv(h, 120000) % 100 = 0,
                   concat({rare:String}, ' exceeded'), 'rate limit'),
                   ' at step ', toString(n % 7), '","code":"PROVIDER_ERROR"}}')),
        '}')
FROM
(
    SELECT
        n, h, ex, node, trace, workflow, outcome, definition, node_definition, release, start,
        arrayJoin(arrayFilter(
            e -> e = 0 OR (e IN (1, 2) AND h % 10 = 0) OR (e = 3 AND outcome < 2),
            [0, 1, 2, 3])) AS k,
        multiIf(k = 0, 'workflow.execution.initiated', k = 1, 'node.execution.initiated',
                k = 2, 'node.execution.fulfilled', outcome = 0, 'workflow.execution.fulfilled',
                'workflow.execution.rejected') AS event_name,
        start + toIntervalMillisecond(multiIf(k = 0, 0, k = 1, 1, k = 2, 200, 250 + h % 5000))
            AS at
    FROM
    (
        SELECT
            number AS n,
            sipHash64(number) AS h,
            generateUUIDv4(number * 8 + 1) AS ex,
            generateUUIDv4(number * 8 + 2) AS node,
            generateUUIDv4(number * 8 + 3) AS trace,
            concat('wf', toString(h % {workflows:UInt32})) AS workflow,
            intDiv(h, 10) % 3 AS outcome,
            toDateTime64({base:String}, 6, 'UTC')
                + toIntervalMicrosecond(number * {step_us:UInt64}) AS start,
            concat('{"id":"', {deployment:String},
                   leftPad(toString(h % {workflows:UInt32}), 2, '0'),
                   '","name":"', workflow, '","module":["bench","lists"]}') AS definition,
            '{"id":"5f1c2a3e-0000-4000-8000-00000000ffff","name":"Model","module":["bench","lists"]}'
                AS node_definition,
            concat(
                '{"type":"WORKFLOW_RELEASE_TAG","span_id":"',
                toString(generateUUIDv4(number * 8 + 4)),
                '","parent":null,"deployment_id":"', {deployment:String},
                leftPad(toString(h % {workflows:UInt32}), 2, '0'),
                '","deployment_name":"deploy-', workflow,
                '","deployment_history_item_id":"', {deployment:String},
                leftPad(toString(50 + h % {workflows:UInt32}), 2, '0'),
                '","release_tag_id":"', {deployment:String},
                leftPad(toString(80 + h % {workflows:UInt32}), 2, '0'),
                '","release_tag_name":"production","external_id":"order-', toString(number),
                '","metadata":{"customer":"c', toString(intDiv(h, 30) % {customers:UInt32}),
                '","tier":', toString(intDiv(h, 30000) % 4), '},"workflow_version_id":"',
                {deployment:String}, leftPad(toString(50 + h % {workflows:UInt32}), 2, '0'), '"}'
            ) AS release
        FROM numbers({offset:UInt64}, {count:UInt64})
    )
)
"""


def step_microseconds(total: int) -> int:
    """The gap between two executions' starts that spreads `total` over `SPAN_DAYS` days."""
    return SPAN_DAYS * 86_400_000_000 // total


def insert_list_executions(
    client: Any,
    workspace_id: UUID,
    offset: int,
    count: int,
    total: int,
    customers: int = CUSTOMERS,
) -> None:
    """Executions `offset` to `offset + count - 1` of `total`, straight into `events`."""
    client.command(
        _INSERT,
        parameters={
            "workspace_id": workspace_id,
            "offset": offset,
            "count": count,
            "step_us": step_microseconds(total),
            "base": BASE,
            "workflows": WORKFLOWS,
            "customers": customers,
            "deployment": _DEPLOYMENT_ID,
            "rare": RARE_WORD,
        },
    )


def load(
    client: Any, workspace_id: UUID, total: int, chunk: int, customers: int = CUSTOMERS
) -> dict[str, Any]:
    """Migrate, drop the view no list reads, insert `total` executions; what it took."""
    apply_migrations(client)
    client.command("DROP VIEW IF EXISTS span_detail_mv")
    started = time.perf_counter()
    for offset in range(0, total, chunk):
        insert_list_executions(
            client, workspace_id, offset, min(chunk, total - offset), total, customers
        )
    insert_seconds = time.perf_counter() - started
    settle_started = time.perf_counter()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        running = client.query(
            "SELECT count() FROM system.merges WHERE database = currentDatabase()"
        ).result_rows[0][0]
        if not running:
            break
        time.sleep(0.5)
    settle_seconds = time.perf_counter() - settle_started
    counts = {
        table: int(
            client.query("SELECT count() FROM {t:Identifier}", parameters={"t": table}).result_rows[
                0
            ][0]
        )
        for table in ("events", "execution_index", "execution_extent", "span_usage")
    }
    counts["executions"] = int(
        client.query("SELECT uniqExact(execution_id) FROM executions").result_rows[0][0]
    )
    if counts["execution_index"] != total or counts["executions"] != total:
        raise RuntimeError(f"{counts} after loading {total:,} executions")
    _validate_sample(client)
    parts = client.query(
        "SELECT table, count() FROM system.parts WHERE database = currentDatabase() AND active"
        " GROUP BY table ORDER BY table"
    ).result_rows
    print(
        f"lists: {total:,} executions ({counts['events']:,} events) inserted in"
        f" {insert_seconds:.1f} s, merges settled in {settle_seconds:.1f} s; rows {counts}",
        flush=True,
    )
    return {
        "executions": total,
        "insert_seconds": insert_seconds,
        "settle_seconds": settle_seconds,
        "rows": counts,
        "parts": {str(table): int(n) for table, n in parts},
    }


def _validate_sample(client: Any) -> None:
    """A few events of every name pass the ingest validation: the shapes are ones it accepts."""
    rows = client.query(
        "SELECT name, payload FROM events GROUP BY name, payload ORDER BY name LIMIT 3 BY name"
    ).result_rows
    names = set()
    for index, (name, payload) in enumerate(rows):
        checked = validate_event(orjson.loads(payload), payload.encode(), index)
        if not isinstance(checked, Envelope):
            raise AssertionError(f"a generated {name} event does not validate: {checked}")
        names.add(name)
    if len(names) != 5:
        raise AssertionError(f"the data holds events of {sorted(names)} only")
