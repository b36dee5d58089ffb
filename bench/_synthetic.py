"""Made-up executions for the read benchmarks: wide span trees, and a million small runs.

A wide execution is one root workflow span with N node spans under it (initiated, then
fulfilled, each), as `LoggedEvent`s ready for `ClickHouseStore.apply`: the product's own
projection code writes every table, only the SQLite log in front of it is left out (reading it
back is measured by the projection-rate part). A sample of the events goes through the ingest
validation, so the shapes are ones the API accepts.

The million executions for the status benchmark are generated inside ClickHouse by one
`INSERT INTO events SELECT … FROM numbers()` per chunk (two root events per execution,
initiated and fulfilled); the materialized views fill `executions` and `span_detail` from
them exactly as they do from the runner's inserts. Generating 2,000,000 rows in Python and
inserting them through the client would take minutes longer and measure nothing of interest.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from domain.envelope import Envelope, validate_event
from domain.log import LoggedEvent

BASE_TIME = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
API_VERSION = "2024-10-25"
# Every this-many events of a wide execution is validated (plus the first few).
_VALIDATE_EVERY = 997


def _timestamp(microseconds: int) -> str:
    moment = BASE_TIME + timedelta(microseconds=microseconds)
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class WideExecution:
    """One execution with `span_count` node spans under its root workflow span."""

    execution_id: UUID
    span_count: int  # node spans; the execution has one more, its root
    events: list[LoggedEvent]


def wide_execution(
    workspace_id: UUID, span_count: int, first_position: int, received_at: datetime
) -> WideExecution:
    """Events of a wide execution at log positions `first_position + 1` onwards."""
    execution_id = str(uuid.uuid4())
    trace_id = str(uuid.uuid4())
    workflow = {"id": str(uuid.uuid4()), "name": "WideWorkflow", "module": ["bench", "wide"]}
    node = {"id": str(uuid.uuid4()), "name": "Step", "module": ["bench", "wide"]}
    external = {"type": "EXTERNAL", "span_id": str(uuid.uuid4()), "parent": None}
    context = {
        "type": "WORKFLOW",
        "span_id": execution_id,
        "workflow_definition": workflow,
        "parent": external,
    }
    raws: list[tuple[str, bytes]] = []

    def add(name: str, span_id: str, parent: Any, body: Any, microseconds: int) -> None:
        event = {
            "id": str(uuid.uuid4()),
            "name": name,
            "timestamp": _timestamp(microseconds),
            "api_version": API_VERSION,
            "trace_id": trace_id,
            "span_id": span_id,
            "parent": parent,
            "links": None,
            "body": body,
        }
        raws.append((name, orjson.dumps(event)))

    add(
        "workflow.execution.initiated",
        execution_id,
        external,
        {"workflow_definition": workflow, "inputs": {"steps": span_count}},
        0,
    )
    for n in range(span_count):
        span_id = str(uuid.uuid4())
        add(
            "node.execution.initiated",
            span_id,
            context,
            {"node_definition": node, "inputs": {"step": n, "text": f"input of step {n}"}},
            1000 * n + 1,
        )
        add(
            "node.execution.fulfilled",
            span_id,
            context,
            {"node_definition": node, "outputs": {"result": f"output of step {n}"}},
            1000 * n + 700,
        )
    end = 1000 * span_count + 10
    add(
        "workflow.execution.snapshotted",
        execution_id,
        external,
        {"workflow_definition": workflow, "state": {"meta": {"id": str(uuid.uuid4())}}},
        end,
    )
    add(
        "workflow.execution.fulfilled",
        execution_id,
        external,
        {"workflow_definition": workflow, "outputs": {"steps_done": span_count}},
        end + 1,
    )
    execution = UUID(execution_id)
    events = [
        LoggedEvent(first_position + n + 1, workspace_id, execution, name, received_at, raw)
        for n, (name, raw) in enumerate(raws)
    ]
    for n, event in enumerate(events):
        if n < 5 or n % _VALIDATE_EVERY == 0 or n == len(events) - 1:
            checked = validate_event(orjson.loads(event.raw), event.raw, n)
            if not isinstance(checked, Envelope) or checked.execution_id != execution:
                raise AssertionError(f"a generated event does not validate: {checked}")
    return WideExecution(execution, span_count, events)


# Two root events per execution, initiated and fulfilled, with the SDK's envelope fields and a
# small body (definition, inputs or outputs): ~520-byte payloads. Ids are random UUIDs, so the
# executions spread over the whole primary key as real ones do.
_INSERT_EXECUTIONS = """
INSERT INTO events
    (workspace_id, execution_id, span_id, position, event_id, name, parent_span_id, trace_id,
     timestamp, received_at, payload)
SELECT
    {workspace_id:UUID}, ex, ex, n * 2 + k + 1, if(k = 0, id0, id1),
    if(k = 0, 'workflow.execution.initiated', 'workflow.execution.fulfilled'), NULL, trace,
    ts + toIntervalMillisecond(k * 250), ts + toIntervalMillisecond(k * 250 + 3),
    concat(
        '{"id":"', toString(if(k = 0, id0, id1)), '","name":"',
        if(k = 0, 'workflow.execution.initiated', 'workflow.execution.fulfilled'),
        '","timestamp":"',
        formatDateTime(ts + toIntervalMillisecond(k * 250), '%Y-%m-%dT%H:%i:%S.%fZ'),
        '","api_version":"2024-10-25","trace_id":"', toString(trace),
        '","span_id":"', toString(ex),
        '","parent":{"type":"EXTERNAL","span_id":"', toString(ext), '","parent":null},',
        '"links":null,',
        '"body":{"workflow_definition":{"id":"5f1c2a3e-0000-4000-8000-000000000001",',
        '"name":"StatusWorkflow","module":["bench","status"]},',
        if(k = 0,
           concat('"inputs":{"question":"what is the status of run ', toString(n), '?"}'),
           concat('"outputs":{"answer":"run ', toString(n), ' is done"}')),
        '}}')
FROM
(
    SELECT
        number AS n, generateUUIDv4(1) AS ex, generateUUIDv4(2) AS trace,
        generateUUIDv4(3) AS ext, generateUUIDv4(4) AS id0, generateUUIDv4(5) AS id1,
        toDateTime64('2026-11-23 00:00:00', 6, 'UTC') + toIntervalMillisecond(number * 7) AS ts
    FROM numbers({offset:UInt64}, {count:UInt64})
)
ARRAY JOIN [0, 1] AS k
"""


def insert_executions(client: Any, workspace_id: UUID, offset: int, count: int) -> None:
    """`count` fulfilled executions (numbered from `offset`) straight into `events`."""
    client.command(
        _INSERT_EXECUTIONS,
        parameters={"workspace_id": workspace_id, "offset": offset, "count": count},
    )


def sample_executions(client: Any, workspace_id: UUID, count: int) -> list[UUID]:
    """`count` executions of the workspace, picked at random."""
    rows = client.query(
        "SELECT execution_id FROM executions WHERE workspace_id = {w:UUID} "
        "GROUP BY execution_id ORDER BY rand() LIMIT {n:UInt32}",
        parameters={"w": workspace_id, "n": count},
    ).result_rows
    return [row[0] for row in rows]
