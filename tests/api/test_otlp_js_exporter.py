"""`POST /v1/traces` fed by the OpenTelemetry JS SDK's own OTLP/HTTP exporter, which sends
OTLP/JSON (the Python SDK has no JSON exporter): gzip on and off, read back through status,
detail and `otel_traces`. The sender is tests/otlp_js/send_agent_trace.mjs; `make test-tools`
installs its packages (`npm ci`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from domain.otel_mapping import OTLP_TRACES
from tests.api.test_otel_traces import spans_of
from tests.servers import RunningServer, position_token, server_in_thread, vellum_client

SENDER = Path(__file__).resolve().parents[1] / "otlp_js" / "send_agent_trace.mjs"


def node_binary() -> str:
    node = shutil.which("node")
    installed = SENDER.parent / "node_modules" / "@opentelemetry" / "exporter-trace-otlp-http"
    if node is None or not installed.is_dir():
        reason = "Node.js and tests/otlp_js's packages (make test-tools runs npm ci there)"
        if os.environ.get("RUNLEDGER_REQUIRE_NODE_OTLP") == "1":
            pytest.fail(f"missing: {reason}")
        pytest.skip(f"missing: {reason}")
    return node


@pytest.fixture(scope="module")
def server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    with server_in_thread(module_log_env) as running:
        yield running


def send(server: RunningServer, compression: str) -> dict[str, Any]:
    done = subprocess.run(
        [node_binary(), str(SENDER), f"{server.base_url}/v1/traces", server.api_key, compression],
        capture_output=True,
        timeout=120,
        check=True,
    )
    sent: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    # Every batch the exporter sent was answered with success (0), so all of it is logged.
    assert sent["results"], done.stderr
    assert {result["code"] for result in sent["results"]} == {0}, sent["results"]
    sent["execution_id"] = str(uuid.uuid5(OTLP_TRACES, sent["trace_id"]))
    sent["position"] = position_token(server.env)
    return sent


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_the_js_exporters_json_reads_back_through_status_detail_and_otel_traces(
    server: RunningServer, clickhouse_url: str, compression: str
) -> None:
    sent = send(server, compression)
    execution_id = sent["execution_id"]
    with vellum_client(server) as client:
        detail = client.workflow_executions.retrieve_workflow_execution_detail(
            execution_id,
            request_options={"additional_query_parameters": {"min_log_position": sent["position"]}},
        )
    spans = {span.attributes.label: span for span in detail.spans}
    assert set(spans) == {"agent", "llm", "tool"}
    agent_span = str(uuid.uuid5(uuid.UUID(execution_id), sent["ids"]["agent"]))
    assert spans["agent"].parent_span_id == execution_id
    assert spans["llm"].parent_span_id == agent_span
    assert {o.name: o.value for o in detail.inputs} == {"value": {"question": "why?"}}
    assert {o.name: o.value for o in detail.outputs} == {"value": "because"}
    assert detail.usage_results is not None
    assert detail.usage_results[0].usage is not None
    (usage,) = detail.usage_results[0].usage
    assert usage.ml_model_name == "gpt-4o"
    assert (usage.ml_model_usage.input_token_count, usage.ml_model_usage.output_token_count) == (
        12,
        5,
    )
    assert spans["tool"].events[-1].name == "node.execution.rejected"
    assert spans["tool"].events[-1].body.error.message == "no such tool"
    raw = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/detail",
        headers=server.headers(),
    ).json()
    (llm_raw,) = [span for span in raw["spans"] if span["attributes"]["label"] == "llm"]
    llm_otel = llm_raw["events"][-1]["body"]["otel"]
    assert llm_otel["trace_id"] == sent["trace_id"]
    assert llm_otel["span_id"] == sent["ids"]["llm"]
    assert llm_otel["resource"]["attributes"]["service.name"] == "support-bot-js"
    assert llm_otel["scope"]["name"] == "tests.agent.js"
    # It came as OTLP/JSON: the span's object as the exporter wrote it, hex ids in it.
    assert llm_otel["received"]["encoding"] == "json"
    received = orjson.loads(llm_otel["received"]["text"])
    assert (received["spanId"], received["name"]) == (sent["ids"]["llm"], "llm")
    status = httpx.get(
        f"{server.base_url}/v1/workflows/executions/{execution_id}/status",
        headers=server.headers(),
    ).json()
    assert (status["status"], status["outputs"]) == ("FULFILLED", {"value": "because"})

    rows = {row["SpanName"]: row for row in spans_of(server, clickhouse_url, sent["trace_id"])}
    assert set(rows) == {"agent", "llm", "tool"}
    assert rows["llm"]["SpanId"] == sent["ids"]["llm"]
    assert rows["llm"]["ParentSpanId"] == sent["ids"]["agent"]
    assert rows["agent"]["ParentSpanId"] == ""
    assert rows["tool"]["StatusCode"] == "Error"
    assert rows["llm"]["ServiceName"] == "support-bot-js"
    assert rows["llm"]["SpanAttributes"]["gen_ai.usage.input_tokens"] == "12"
