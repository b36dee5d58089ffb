"""The streaming execute endpoints: every event arrives, parses with the client, and is stored.

vellum-ai's client silently drops a streamed line it cannot parse, so each test also reads the
raw newline-delimited JSON and parses every line with the client's own model: a count that
matches and lines that all parse mean the client saw everything that was sent.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter
from vellum.client.types import WorkflowEvent, WorkflowResultEvent, WorkflowStreamEvent

from tests.api.runtime_support import (
    logged_events,
    raw_ndjson,
    runtime_server_fixture,  # noqa: F401  (the runtime_server fixture)
    visible_now,
)
from tests.servers import RunningServer, vellum_client

_STREAM_EVENT: TypeAdapter[WorkflowStreamEvent] = TypeAdapter(WorkflowStreamEvent)
_WORKFLOW_EVENT: TypeAdapter[WorkflowEvent] = TypeAdapter(WorkflowEvent)
_STATES = {"initiated": "INITIATED", "streaming": "STREAMING", "fulfilled": "FULFILLED"}
_STATES["rejected"] = "REJECTED"

RUNS = [
    pytest.param("summarize", {"text": "one two three four"}, id="function"),
    pytest.param("shout", {"text": "hey"}, id="async-function"),
    pytest.param("linear", {"text": " hi "}, id="sdk"),
    pytest.param("nested", {"text": " deep "}, id="sdk-subworkflow"),
    pytest.param("explode", {"text": "boom"}, id="function-rejected"),
]


def _typed(inputs: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": k, "type": "STRING", "value": v} for k, v in inputs.items()]


def _stored(server: RunningServer, execution_id: str) -> dict[str, tuple[str, str]]:
    """Event id -> (result state, span id) of each stored event the result stream shows.

    Read through the detail endpoint: the root's workflow events and every node's events.
    """
    stored: dict[str, tuple[str, str]] = {}
    with vellum_client(server) as client:
        detail = client.workflow_executions.retrieve_workflow_execution_detail(
            execution_id, span_limit=1000, request_options=visible_now(server)
        )
    assert not (detail.model_extra or {})["has_more"]
    for span in detail.spans:
        if span.name == "workflow.execution" and span.span_id != execution_id:
            continue  # a sub-workflow's own events are its node's business
        for event in span.events:
            state = _STATES.get(event.name.rpartition(".")[2])
            if state is not None:
                stored[str(event.id)] = (state, span.span_id)
    return stored


def _shown(events: list[WorkflowStreamEvent]) -> dict[str, tuple[str, str]]:
    shown: dict[str, tuple[str, str]] = {}
    for event in events:
        if event.type == "WORKFLOW":
            shown[event.data.id] = (event.data.state, event.execution_id)
        else:
            shown[event.data.id] = (event.data.state, event.data.node_result_id or "")
    return shown


@pytest.mark.parametrize(("deployment", "inputs"), RUNS)
def test_every_result_event_streams_through_the_client_and_is_the_stored_one(
    runtime_server: RunningServer, deployment: str, inputs: dict[str, str]
) -> None:
    with vellum_client(runtime_server) as client:
        received = list(
            client.execute_workflow_stream(
                workflow_deployment_name=deployment,
                inputs=_typed(inputs),  # type: ignore[arg-type]  # the client takes dicts too
                event_types=["WORKFLOW", "NODE"],
            )
        )
    raw = raw_ndjson(
        runtime_server,
        "/v1/execute-workflow-stream",
        {
            "workflow_deployment_name": deployment,
            "inputs": _typed(inputs),
            "event_types": ["WORKFLOW", "NODE"],
        },
    )
    parsed = [_STREAM_EVENT.validate_json(line) for line in raw]  # every line parses
    # Two runs of one deterministic workflow: the client kept as many events as were sent.
    assert len(received) == len(raw)
    assert Counter((e.type, e.data.state) for e in received) == Counter(
        (e.type, e.data.state) for e in parsed
    )
    for events in (received, parsed):
        execution_id = events[0].execution_id
        assert {e.execution_id for e in events} == {execution_id}
        assert (events[0].type, events[0].data.state) == ("WORKFLOW", "INITIATED")
        assert events[-1].type == "WORKFLOW"
        assert events[-1].data.state in {"FULFILLED", "REJECTED"}
        assert any(e.type == "NODE" for e in events)
        shown = _shown(events)
        assert len(shown) == len(events)  # no event twice
        assert shown == _stored(runtime_server, execution_id)


def test_only_workflow_events_stream_by_default(runtime_server: RunningServer) -> None:
    with vellum_client(runtime_server) as client:
        received = list(
            client.execute_workflow_stream(
                workflow_deployment_name="summarize",
                inputs=_typed({"text": "a"}),  # type: ignore[arg-type]
            )
        )
    assert [(e.type, e.data.state) for e in received] == [
        ("WORKFLOW", "INITIATED"),
        ("WORKFLOW", "FULFILLED"),
    ]
    fulfilled = received[-1].data
    assert isinstance(fulfilled, WorkflowResultEvent)
    assert {o.name: o.value for o in fulfilled.outputs or []} == {"summary": "a", "count": 1}


@pytest.mark.parametrize(("deployment", "inputs"), RUNS)
def test_the_native_stream_sends_every_logged_event_as_logged(
    runtime_server: RunningServer, deployment: str, inputs: dict[str, Any]
) -> None:
    with vellum_client(runtime_server) as client:
        received = list(client.workflow_deployments.execute_stream(deployment, inputs=inputs))
    raw = raw_ndjson(
        runtime_server, f"/v1/workflow-deployments/{deployment}/execute-stream", {"inputs": inputs}
    )
    for line in raw:
        _WORKFLOW_EVENT.validate_json(line)  # every line parses with the client's model
    assert len(received) == len(raw)
    streamed = [orjson.loads(line) for line in raw]
    for ids, execution_id in (
        ([str(e.id) for e in received], str(received[0].span_id)),
        ([e["id"] for e in streamed], streamed[0]["span_id"]),
    ):
        logged = logged_events(runtime_server.env, execution_id)
        assert ids == [e["id"] for e in logged]
    # Byte for byte what the log holds, in log order.
    assert streamed == logged_events(runtime_server.env, streamed[0]["span_id"])
    names = [e["name"] for e in streamed]
    assert names[0] == "workflow.execution.initiated"
    assert names[-1] in {"workflow.execution.fulfilled", "workflow.execution.rejected"}
    assert any(name.startswith("node.execution.") for name in names)
