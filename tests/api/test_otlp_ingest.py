"""`POST /v1/traces`: spans sent by the OpenTelemetry SDK's own OTLP/HTTP exporter, read back
through status and detail with the official Vellum client."""

from __future__ import annotations

import base64
import gzip
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from domain.otel_mapping import OTLP_TRACES
from tests.servers import (
    RunningServer,
    create_key,
    position_token,
    server_in_thread,
    vellum_client,
)


@pytest.fixture(scope="module")
def otlp_server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    with server_in_thread(module_log_env) as running:
        yield running


def execution_of(trace_id: int) -> str:
    return str(uuid.uuid5(OTLP_TRACES, f"{trace_id:032x}"))


def send_agent_trace(
    server: RunningServer, headers: dict[str, str], compression: Compression
) -> dict[str, Any]:
    """An OpenInference-shaped agent run: a root with input and output, an LLM call with
    GenAI usage, and a tool call that fails; exported span by span as each ends (children
    first, the root last)."""
    exporter = OTLPSpanExporter(
        endpoint=f"{server.base_url}/v1/traces", headers=headers, compression=compression
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.agent", "1.2.3")
    with tracer.start_as_current_span(
        "agent",
        attributes={"input.value": '{"question": "why?"}', "input.mime_type": "application/json"},
    ) as root:
        with tracer.start_as_current_span(
            "llm",
            attributes={
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 5,
                "output.value": "because",
            },
        ) as llm:
            llm.add_event("token", {"index": 1})
        with tracer.start_as_current_span("tool", record_exception=False) as tool:
            tool.record_exception(ValueError("no such tool"))
            tool.set_status(Status(StatusCode.ERROR, "tool failed"))
        root.set_attribute("output.value", "because")
    provider.shutdown()
    context = root.get_span_context()
    return {
        # The log's head once every span was acknowledged: reads wait until it is visible.
        "position": position_token(server.env),
        "trace_id": context.trace_id,
        "execution_id": execution_of(context.trace_id),
        "ids": {
            "agent": context.span_id,
            "llm": llm.get_span_context().span_id,
            "tool": tool.get_span_context().span_id,
        },
    }


def node_id(sent: dict[str, Any], name: str) -> str:
    return str(uuid.uuid5(uuid.UUID(sent["execution_id"]), f"{sent['ids'][name]:016x}"))


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_sdk_exporters_spans_read_back_through_status_and_detail(
    otlp_server: RunningServer, compression: Compression
) -> None:
    sent = send_agent_trace(otlp_server, {"x-api-key": otlp_server.api_key}, compression)
    execution_id = sent["execution_id"]
    with vellum_client(otlp_server) as client:
        status = client.workflow_executions.retrieve_workflow_execution_detail(
            execution_id,
            request_options={"additional_query_parameters": {"min_log_position": sent["position"]}},
        )
    assert status.span_id == execution_id
    spans = {span.attributes.label: span for span in status.spans}
    assert set(spans) == {"agent", "llm", "tool"}
    workflow = [s for s in status.spans if s.name == "workflow.execution"]
    assert [s.span_id for s in workflow] == [execution_id]
    assert spans["agent"].parent_span_id == execution_id
    assert spans["llm"].parent_span_id == node_id(sent, "agent")
    assert spans["tool"].parent_span_id == node_id(sent, "agent")
    assert {o.name: o.value for o in status.inputs} == {"value": {"question": "why?"}}
    assert {o.name: o.value for o in status.outputs} == {"value": "because"}
    assert status.usage_results is not None
    assert status.usage_results[0].usage is not None
    (usage,) = status.usage_results[0].usage
    assert usage.ml_model_name == "gpt-4o"
    assert usage.ml_model_usage.input_token_count == 12
    assert usage.ml_model_usage.output_token_count == 5
    tool_end = spans["tool"].events[-1]
    assert tool_end.name == "node.execution.rejected"
    assert tool_end.body.error.message == "no such tool"
    llm_events = [event.name for event in spans["llm"].events]
    assert llm_events == [
        "node.execution.initiated",
        "node.execution.log",
        "node.execution.fulfilled",
    ]
    read = httpx.get(
        f"{otlp_server.base_url}/v1/workflows/executions/{execution_id}/status",
        headers=otlp_server.headers(),
    ).json()
    assert read["status"] == "FULFILLED"
    assert read["outputs"] == {"value": "because"}


def test_the_terminal_event_keeps_everything_the_span_carried(otlp_server: RunningServer) -> None:
    sent = send_agent_trace(otlp_server, {"x-api-key": otlp_server.api_key}, Compression.Gzip)
    detail = httpx.get(
        f"{otlp_server.base_url}/v1/workflow-executions/{sent['execution_id']}/detail",
        params={"min_log_position": sent["position"]},
        headers=otlp_server.headers(),
    ).json()
    (llm,) = [span for span in detail["spans"] if span["attributes"]["label"] == "llm"]
    otel = llm["events"][-1]["body"]["otel"]
    assert otel["trace_id"] == f"{sent['trace_id']:032x}"
    assert otel["span_id"] == f"{sent['ids']['llm']:016x}"
    assert otel["parent_span_id"] == f"{sent['ids']['agent']:016x}"
    assert otel["kind"] == "SPAN_KIND_INTERNAL"
    assert otel["attributes"]["gen_ai.request.model"] == "gpt-4o"
    assert otel["resource"]["attributes"]["service.name"] == "support-bot"
    assert otel["scope"] == {"name": "tests.agent", "version": "1.2.3", "attributes": {}}
    assert otel["status"] == {"code": "STATUS_CODE_UNSET", "message": ""}


def test_a_bearer_key_is_accepted_and_a_wrong_one_is_a_401(otlp_server: RunningServer) -> None:
    sent = send_agent_trace(
        otlp_server, {"authorization": f"Bearer {otlp_server.api_key}"}, Compression.NoCompression
    )
    found = httpx.get(
        f"{otlp_server.base_url}/v1/workflows/executions/{sent['execution_id']}/status",
        params={"min_log_position": sent["position"]},
        headers=otlp_server.headers(),
    )
    assert found.status_code == 200, found.text
    for headers in ({}, {"authorization": "Bearer nope"}, {"x-api-key": "nope"}):
        refused = httpx.post(
            f"{otlp_server.base_url}/v1/traces",
            content=b"",
            headers={"content-type": "application/x-protobuf", **headers},
        )
        assert refused.status_code == 401, refused.text


def _json_span(trace: str, span: str, parent: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent,
        "name": extra.pop("name", "step"),
        "kind": extra.pop("kind", "SPAN_KIND_SERVER"),
        "startTimeUnixNano": "1765000000000000000",
        "endTimeUnixNano": "1765000001500000000",
        "attributes": [{"key": "input.value", "value": {"stringValue": "hello"}}],
        "status": {"code": extra.pop("status", 1)},
        **extra,
    }


def _post_json(server: RunningServer, document: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v1/traces",
        content=orjson.dumps(document),
        headers={"x-api-key": server.api_key, "content-type": "application/json", **headers},
    )


def test_otlp_json_is_read_and_a_bad_span_is_named_in_partial_success(
    otlp_server: RunningServer,
) -> None:
    trace = uuid.uuid4().hex
    document = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            _json_span(trace, "00f067aa0ba902b7", name="root"),
                            _json_span(trace, "00f067aa0ba902b8", "00f067aa0ba902b7"),
                            _json_span(trace, "not-hex-at-all", "00f067aa0ba902b7"),
                            _json_span(trace, "0000000000000000", "00f067aa0ba902b7"),
                        ],
                    }
                ],
            }
        ]
    }
    response = _post_json(otlp_server, document)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    token = response.headers["x-runledger-log-position"]
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "2"
    assert "spans[2]: an id is not hex" in partial["errorMessage"]
    assert "spans[3]: span_id must be 8 bytes, not all zero" in partial["errorMessage"]
    execution_id = str(uuid.uuid5(OTLP_TRACES, trace))
    detail = httpx.get(
        f"{otlp_server.base_url}/v1/workflow-executions/{execution_id}/detail",
        params={"min_log_position": token},
        headers=otlp_server.headers(),
    ).json()
    assert sorted(span["attributes"]["label"] for span in detail["spans"]) == [
        "root",
        "root",
        "step",
    ]
    assert detail["status"] == "FULFILLED"
    assert detail["inputs"] == [
        {"id": "value", "name": "value", "type": "STRING", "value": "hello"}
    ]


def test_a_span_exported_again_is_a_duplicate_not_a_second_span(
    otlp_server: RunningServer,
) -> None:
    trace = uuid.uuid4().hex
    document = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [_json_span(trace, "1111111111111111", name="once")]}]}
        ]
    }
    tokens = []
    for _ in range(2):
        answer = _post_json(otlp_server, document)
        assert answer.json() == {}
        tokens.append(answer.headers.get("x-runledger-log-position"))
    execution_id = str(uuid.uuid5(OTLP_TRACES, trace))
    detail = httpx.get(
        f"{otlp_server.base_url}/v1/workflow-executions/{execution_id}/detail",
        params={"min_log_position": tokens[0]},
        headers=otlp_server.headers(),
    ).json()
    assert len(detail["spans"]) == 2  # the workflow span and the root's node span
    assert [len(span["events"]) for span in detail["spans"]] == [2, 2]


def test_a_span_whose_values_the_log_refuses_is_named_and_the_others_stored(
    otlp_server: RunningServer,
) -> None:
    # What a sender controls inside the records: a JSON input nested deeper than the reads
    # write, one nested past what orjson writes at all, and a token count below zero.
    trace = uuid.uuid4().hex

    def json_input(text: str) -> list[dict[str, Any]]:
        return [
            {"key": "input.value", "value": {"stringValue": text}},
            {"key": "input.mime_type", "value": {"stringValue": "application/json"}},
        ]

    spans = [
        _json_span(trace, "b000000000000001", name="root"),
        _json_span(
            trace,
            "b000000000000002",
            "b000000000000001",
            attributes=json_input("[" * 200 + "]" * 200),
        ),
        _json_span(
            trace,
            "b000000000000003",
            "b000000000000001",
            attributes=json_input("[" * 300 + "]" * 300),
        ),
        _json_span(
            trace,
            "b000000000000004",
            "b000000000000001",
            attributes=[{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "-3"}}],
        ),
        _json_span(trace, "b000000000000005", "b000000000000001", name="kept"),
    ]
    response = _post_json(otlp_server, {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "3"
    assert partial["errorMessage"] == "; ".join(
        [
            "resource_spans[0].scope_spans[0].spans[1]: body nests objects and arrays deeper"
            " than 128 levels in the event",
            "resource_spans[0].scope_spans[0].spans[2]: event cannot be written as JSON:"
            " Recursion limit reached",
            "resource_spans[0].scope_spans[0].spans[3]:"
            " body.usage_result.usage[0].ml_model_usage.input_token_count must be a whole number"
            " from 0 to 9007199254740991, or null",
        ]
    )
    execution_id = str(uuid.uuid5(OTLP_TRACES, trace))
    detail = httpx.get(
        f"{otlp_server.base_url}/v1/workflow-executions/{execution_id}/detail",
        params={"min_log_position": response.headers["x-runledger-log-position"]},
        headers=otlp_server.headers(),
    ).json()
    assert sorted(span["attributes"]["label"] for span in detail["spans"]) == [
        "kept",
        "root",
        "root",
    ]


@pytest.mark.parametrize(
    ("content_type", "body", "encoding", "status", "message"),
    [
        ("application/x-protobuf", b"\xff\xff\xff", "", 400, "not an OTLP"),
        ("application/json", b"{not json", "", 400, "not JSON"),
        ("application/json", b"[]", "", 400, "must be a JSON object"),
        ("application/json", b'{"resourceSpans": 7}', "", 400, "not an OTLP"),
        ("application/json", b"{}", "gzip", 400, "not gzip"),
        ("application/json", b"{}", "br", 415, "Content-Encoding"),
        ("text/plain", b"{}", "", 415, "Content-Type"),
    ],
)
def test_a_body_that_is_not_otlp_is_refused_and_stores_nothing(
    otlp_server: RunningServer,
    content_type: str,
    body: bytes,
    encoding: str,
    status: int,
    message: str,
) -> None:
    before = otlp_server.readiness()["log_position"]
    response = httpx.post(
        f"{otlp_server.base_url}/v1/traces",
        content=body,
        headers={
            "x-api-key": otlp_server.api_key,
            "content-type": content_type,
            **({"content-encoding": encoding} if encoding else {}),
        },
    )
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]
    assert otlp_server.readiness()["log_position"] == before


def test_a_gzip_body_that_unpacks_past_the_limit_is_a_413(
    module_log_env: dict[str, str],
) -> None:
    with server_in_thread({**module_log_env, "RUNLEDGER_MAX_BODY_BYTES": "1000"}) as server:
        response = httpx.post(
            f"{server.base_url}/v1/traces",
            content=gzip.compress(b" " * 5000),
            headers={
                "x-api-key": server.api_key,
                "content-type": "application/json",
                "content-encoding": "gzip",
            },
        )
    assert response.status_code == 413, response.text


def test_a_protobuf_answer_is_an_export_trace_service_response(otlp_server: RunningServer) -> None:
    response = httpx.post(
        f"{otlp_server.base_url}/v1/traces",
        content=b"",
        headers={"x-api-key": otlp_server.api_key, "content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    parsed = ExportTraceServiceResponse()
    parsed.ParseFromString(response.content)
    assert parsed.partial_success.rejected_spans == 0


def test_another_workspaces_key_does_not_see_the_spans(otlp_server: RunningServer) -> None:
    sent = send_agent_trace(otlp_server, {"x-api-key": otlp_server.api_key}, Compression.Gzip)
    other = create_key(otlp_server.env, workspace="someone-else")
    response = httpx.get(
        f"{otlp_server.base_url}/v1/workflows/executions/{sent['execution_id']}/status",
        headers={"X-API-KEY": other},
    )
    assert response.status_code == 404


def test_spans_in_any_order_and_any_requests_give_the_same_answers(
    otlp_server: RunningServer,
) -> None:
    # A grandchild, a child and the root: one request in order in one workspace, and one
    # request a span, the root first and the grandchild last... reversed, in another.
    trace = uuid.uuid4().hex
    spans = [
        _json_span(trace, "a000000000000001", name="root"),
        _json_span(trace, "a000000000000002", "a000000000000001", name="child"),
        _json_span(trace, "a000000000000003", "a000000000000002", name="grandchild", status=2),
    ]

    def document(chosen: list[dict[str, Any]]) -> dict[str, Any]:
        return {"resourceSpans": [{"scopeSpans": [{"spans": chosen}]}]}

    other = create_key(otlp_server.env, workspace="otlp-reversed")
    in_order = _post_json(otlp_server, document(spans))
    assert in_order.json() == {}
    tokens = {otlp_server.api_key: in_order.headers["x-runledger-log-position"]}
    for span in reversed(spans):
        answer = _post_json(otlp_server, document([span]), **{"x-api-key": other})
        assert answer.json() == {}
        tokens[other] = answer.headers["x-runledger-log-position"]
    execution_id = str(uuid.uuid5(OTLP_TRACES, trace))
    answers = []
    for key, token in tokens.items():
        detail = httpx.get(
            f"{otlp_server.base_url}/v1/workflow-executions/{execution_id}/detail",
            params={"min_log_position": token},
            headers={"X-API-KEY": key},
        ).json()
        answers.append(
            sorted(
                (s["attributes"]["label"], s["parent_span_id"] or "", s["status"], len(s["events"]))
                for s in detail["spans"]
            )
        )
    assert answers[0] == answers[1]
    root_node = str(uuid.uuid5(uuid.UUID(execution_id), "a000000000000001"))
    child_node = str(uuid.uuid5(uuid.UUID(execution_id), "a000000000000002"))
    assert answers[0] == [
        ("child", root_node, "FULFILLED", 2),
        ("grandchild", child_node, "REJECTED", 2),
        ("root", "", "FULFILLED", 2),
        ("root", execution_id, "FULFILLED", 2),
    ]


def test_each_span_keeps_the_bytes_it_was_received_as(otlp_server: RunningServer) -> None:
    # Protobuf: a span whose `kind` is written as a two-byte varint (0x81 0x00 for 1), which
    # the parser accepts and any re-encoding writes as one byte: only the received bytes have
    # it. JSON: a span object spaced and ordered as no encoder would.
    trace = bytes.fromhex(uuid.uuid4().hex)
    span = Span(
        trace_id=trace,
        span_id=bytes.fromhex("c0ffee0000000001"),
        name="received",
        start_time_unix_nano=1_765_000_000_000_000_000,
        end_time_unix_nano=1_765_000_001_000_000_000,
    )
    span_bytes = span.SerializeToString() + b"\x30\x81\x00"  # field 6 (kind), varint 1
    scope_spans = b"\x12" + _length(span_bytes) + span_bytes
    resource_spans = b"\x12" + _length(scope_spans) + scope_spans
    request = b"\x0a" + _length(resource_spans) + resource_spans
    response = httpx.post(
        f"{otlp_server.base_url}/v1/traces",
        content=request,
        headers={"x-api-key": otlp_server.api_key, "content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200, response.text
    received = _terminal_otel(otlp_server, trace.hex(), response)["received"]
    assert received == {"encoding": "protobuf", "base64": base64.b64encode(span_bytes).decode()}

    json_trace = uuid.uuid4().hex
    text = (
        '{ "name" :"as sent",  "spanId":"c0ffee0000000002", "traceId" : "' + json_trace + '",'
        '\n "endTimeUnixNano": 1765000001000000000, "startTimeUnixNano":"1765000000000000000" }'
    )
    body = '{"resourceSpans": [ {"scopeSpans":[{"spans" : [' + text + "]}]}]}"
    answer = httpx.post(
        f"{otlp_server.base_url}/v1/traces",
        content=body.encode(),
        headers={"x-api-key": otlp_server.api_key, "content-type": "application/json"},
    )
    assert answer.json() == {}
    received = _terminal_otel(otlp_server, json_trace, answer)["received"]
    assert received == {"encoding": "json", "text": text}


def _length(data: bytes) -> bytes:
    assert len(data) < 128
    return bytes([len(data)])


def _terminal_otel(server: RunningServer, trace_hex: str, answer: httpx.Response) -> Any:
    execution_id = str(uuid.uuid5(OTLP_TRACES, trace_hex))
    detail = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/detail",
        params={"min_log_position": answer.headers["x-runledger-log-position"]},
        headers=server.headers(),
    ).json()
    (node,) = [s for s in detail["spans"] if s["name"] == "node.execution"]
    return node["events"][-1]["body"]["otel"]
