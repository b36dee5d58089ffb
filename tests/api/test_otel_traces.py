"""`otel_traces` (migration 0016): every span, however it arrived, in the OpenTelemetry
Collector ClickHouse exporter's columns, read by the queries written for that exporter."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression

from projections.clickhouse import connect
from projections.generations import Generations
from tests.api.test_otlp_ingest import send_agent_trace
from tests.events import execution, node_event, workflow_event
from tests.servers import RunningServer, post_events, server_in_thread

ADMIN_TOKEN = "otel-traces-admin"

# The exporter's README query for one trace, as Grafana's trace view sends its like: the
# trace's time range from the lookup table, then its spans.
TRACE_QUERY = """
WITH
    {trace_id:String} AS trace_id,
    (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = trace_id) AS start,
    (SELECT max(End) + 1 FROM otel_traces_trace_id_ts WHERE TraceId = trace_id) AS end
SELECT
    Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, Duration,
    StatusCode, StatusMessage, SpanAttributes, ResourceAttributes, ScopeName, ScopeVersion,
    Events.Name, Events.Attributes, Links.TraceId
FROM otel_traces
WHERE TraceId = trace_id AND Timestamp >= start AND Timestamp <= end
ORDER BY Timestamp ASC
LIMIT 100
"""


@pytest.fixture(scope="module")
def traces_server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    with server_in_thread({**module_log_env, "RUNLEDGER_ADMIN_TOKEN": ADMIN_TOKEN}) as running:
        yield running


def spans_of(server: RunningServer, clickhouse_url: str, trace_id: str) -> list[dict[str, Any]]:
    """The trace's rows by the exporter's query, on the server's live generation."""
    generations = Generations(clickhouse_url, server.env["RUNLEDGER_CLICKHOUSE_DATABASE"])
    try:
        client = connect(clickhouse_url, generations.active())
    finally:
        generations.close()
    try:
        result = client.query(TRACE_QUERY, parameters={"trace_id": trace_id})
    finally:
        client.close()
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _visible(server: RunningServer, execution_id: str, token: str | None = None) -> None:
    params = {"min_log_position": token} if token else {}
    response = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/detail",
        params=params,
        headers=server.headers(),
    )
    assert response.status_code == 200, response.text


def test_otlp_spans_are_one_row_each_as_the_exporter_writes_them(
    traces_server: RunningServer, clickhouse_url: str
) -> None:
    sent = send_agent_trace(traces_server, {"x-api-key": traces_server.api_key}, Compression.Gzip)
    _visible(traces_server, sent["execution_id"], sent["position"])
    rows = spans_of(traces_server, clickhouse_url, f"{sent['trace_id']:032x}")
    by_name = {row["SpanName"]: row for row in rows}
    assert sorted(by_name) == ["agent", "llm", "tool"]
    assert len(rows) == 3
    ids = {name: f"{span_id:016x}" for name, span_id in sent["ids"].items()}
    assert {name: row["SpanId"] for name, row in by_name.items()} == ids
    assert by_name["agent"]["ParentSpanId"] == ""
    assert by_name["llm"]["ParentSpanId"] == ids["agent"]
    assert by_name["tool"]["ParentSpanId"] == ids["agent"]
    llm = by_name["llm"]
    assert llm["SpanKind"] == "Internal"
    assert llm["ServiceName"] == "support-bot"
    assert (llm["ScopeName"], llm["ScopeVersion"]) == ("tests.agent", "1.2.3")
    assert llm["SpanAttributes"]["gen_ai.request.model"] == "gpt-4o"
    assert llm["SpanAttributes"]["gen_ai.usage.input_tokens"] == "12"
    assert llm["ResourceAttributes"]["service.name"] == "support-bot"
    assert llm["ResourceAttributes"]["runledger.execution_id"] == sent["execution_id"]
    assert llm["Events.Name"] == ["token"]
    assert llm["Events.Attributes"] == [{"index": "1"}]
    assert llm["StatusCode"] == "Unset"
    assert (by_name["tool"]["StatusCode"], by_name["tool"]["StatusMessage"]) == (
        "Error",
        "tool failed",
    )
    assert by_name["agent"]["Duration"] >= llm["Duration"] > 0
    assert by_name["agent"]["Timestamp"] <= llm["Timestamp"]


def test_vellum_spans_are_rows_with_their_start_from_an_earlier_batch(
    traces_server: RunningServer, clickhouse_url: str
) -> None:
    # The node's initiated event in one request, its end and the workflow's in the next: the
    # end's batch finds the start in span_detail.
    events = execution(node_count=1)
    trace_id = events[0]["trace_id"]
    for event in events:
        event["trace_id"] = trace_id
    post_events(traces_server, events[:2])
    token = post_events(traces_server, events[2:])
    execution_id = events[0]["span_id"]
    _visible(traces_server, execution_id, token)
    rows = spans_of(traces_server, clickhouse_url, trace_id.replace("-", ""))
    assert [(row["SpanName"], row["StatusCode"], row["ServiceName"]) for row in rows] == [
        ("Wf", "Ok", "runledger"),
        ("Node", "Ok", "runledger"),
    ]
    workflow, node = rows
    assert workflow["SpanId"] == execution_id.replace("-", "")
    assert node["ParentSpanId"] == workflow["SpanId"]
    # Offsets of tests.events.execution: the node from 1 ms to 5 ms, the workflow 0 to 20 ms.
    assert node["Duration"] == 4_000_000
    assert workflow["Duration"] == 20_000_000
    assert node["SpanAttributes"]["vellum.span_kind"] == "node.execution"


def test_a_rejected_vellum_span_is_an_error_with_its_message(
    traces_server: RunningServer, clickhouse_url: str
) -> None:
    execution_id, node_id = str(uuid.uuid4()), str(uuid.uuid4())
    trace_id = str(uuid.uuid4())
    rejected = node_event("rejected", execution_id, node_id, 5)
    rejected["body"]["error"] = {"message": "quota exceeded", "code": "PROVIDER_ERROR"}
    events = [
        workflow_event("initiated", execution_id, 0, trace_id),
        node_event("initiated", execution_id, node_id, 1),
        rejected,
    ]
    for event in events:
        event["trace_id"] = trace_id
    token = post_events(traces_server, events)
    _visible(traces_server, execution_id, token)
    rows = spans_of(traces_server, clickhouse_url, trace_id.replace("-", ""))
    # The workflow has not ended: only the node has a row.
    assert [(r["SpanName"], r["StatusCode"], r["StatusMessage"]) for r in rows] == [
        ("Node", "Error", "quota exceeded")
    ]


def test_a_replay_rebuilds_the_same_rows(traces_server: RunningServer, clickhouse_url: str) -> None:
    sent = send_agent_trace(traces_server, {"x-api-key": traces_server.api_key}, Compression.Gzip)
    _visible(traces_server, sent["execution_id"], sent["position"])
    trace = f"{sent['trace_id']:032x}"

    def rows() -> list[tuple[Any, ...]]:
        return sorted(
            (r["SpanId"], r["Timestamp"], r["Duration"], orjson.dumps(r["SpanAttributes"]))
            for r in spans_of(traces_server, clickhouse_url, trace)
        )

    before = rows()
    headers = {"X-Admin-Token": ADMIN_TOKEN}
    with httpx.Client(base_url=traces_server.base_url, headers=headers, timeout=120) as http:
        assert http.post("/admin/replay").status_code == 202
        deadline = time.monotonic() + 120
        while (state := http.get("/admin/replay").json())["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert state["state"] == "done", state
    assert rows() == before
    assert len(before) == 3
