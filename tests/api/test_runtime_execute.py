"""`POST /v1/execute-workflow` through vellum-ai's client: outcomes, node spans, bad requests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from vellum import ChatMessageRequest, Vellum, WorkflowRequestChatHistoryInputRequest
from vellum.client.errors.bad_request_error import BadRequestError
from vellum.client.errors.not_found_error import NotFoundError
from vellum.client.types import WorkflowExecutionDetail

from api.app import open_ledger
from api.settings import Settings
from tests.api.runtime_support import (
    deployed_server,
    fulfilled_outputs,
    json_input,
    logged_execution_ids,
    number,
    runtime_server_fixture,  # noqa: F401  (the runtime_server fixture)
    string,
    visible_now,
)
from tests.servers import RunningServer, vellum_client


def _detail(client: Vellum, server: RunningServer, execution_id: str) -> WorkflowExecutionDetail:
    return client.workflow_executions.retrieve_workflow_execution_detail(
        execution_id, span_limit=1000, request_options=visible_now(server)
    )


def _spans_by_label(detail: WorkflowExecutionDetail) -> dict[str, Any]:
    labels = [span.attributes.label for span in detail.spans]
    assert len(labels) == len(set(labels)), labels
    return {span.attributes.label: span for span in detail.spans}


def test_a_function_run_answers_typed_outputs_and_records_its_nested_spans(
    log_env: dict[str, str],
) -> None:
    with deployed_server(log_env) as server, vellum_client(server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="summarize", inputs=[string("text", "a b c d e")]
        )
        assert answer.data.state == "FULFILLED"
        outputs = {o.name: (o.type, o.value) for o in answer.data.outputs}
        assert outputs == {"summary": ("STRING", "a b c"), "count": ("NUMBER", 5)}
        assert answer.external_id is None

        detail = _detail(client, server, answer.execution_id)
    assert (detail.model_extra or {})["status"] == "FULFILLED"
    # The inputs it ran with: those sent, and the declared default of `limit`.
    assert {v.name: v.value for v in detail.inputs} == {"text": "a b c d e", "limit": 3}
    assert {v.name: v.value for v in detail.outputs} == {"summary": "a b c", "count": 5}
    spans = _spans_by_label(detail)
    assert set(spans) == {"summarize", "analyse", "_tokenize", "_count", "model call"}
    root = spans["summarize"]
    assert root.name == "workflow.execution"
    assert root.span_id == answer.execution_id
    assert root.parent_span_id is None
    parents = {label: span.parent_span_id for label, span in spans.items() if label != "summarize"}
    assert parents == {
        "analyse": root.span_id,
        "_tokenize": spans["analyse"].span_id,
        "_count": spans["analyse"].span_id,
        "model call": spans["_tokenize"].span_id,
    }
    assert all(span.name == "node.execution" for span in spans.values() if span is not root)
    assert all((span.model_extra or {})["status"] == "FULFILLED" for span in spans.values())
    usage = spans["model call"].usage_result
    assert usage is not None
    assert usage.usage is not None
    assert [(u.ml_model_name, u.ml_model_usage.input_token_count) for u in usage.usage] == [
        ("gpt-4o-mini", 12)
    ]
    assert usage.usage[0].ml_model_usage.output_token_count == 3
    assert all(spans[label].usage_result is None for label in ("analyse", "_tokenize", "_count"))
    # Every span's events are the node's own: an initiated and a fulfilled.
    for span in spans.values():
        names = [event.name for event in span.events]
        assert names[0].endswith(".initiated"), names
        assert names[-1].endswith(".fulfilled"), names


def test_an_sdk_workflow_run_answers_its_outputs_and_records_its_node_spans(
    log_env: dict[str, str],
) -> None:
    with deployed_server(log_env) as server, vellum_client(server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="linear", inputs=[string("text", "  hi  ")]
        )
        assert answer.data.state == "FULFILLED"
        assert [(o.name, o.type, o.value) for o in answer.data.outputs] == [
            ("result", "STRING", "HI!")
        ]
        detail = _detail(client, server, answer.execution_id)
    assert (detail.model_extra or {})["status"] == "FULFILLED"
    root, *nodes = detail.spans
    assert root.name == "workflow.execution"
    assert root.span_id == answer.execution_id
    assert root.parent_span_id is None
    assert [(n.name, n.attributes.label, n.parent_span_id) for n in nodes] == [
        ("node.execution", "Strip", root.span_id),
        ("node.execution", "Upper", root.span_id),
        ("node.execution", "Exclaim", root.span_id),
    ]
    # The run is filed under its deployment: the release tag context is the root's parent.
    assert detail.parent_context is not None
    assert detail.parent_context.type == "WORKFLOW_RELEASE_TAG"


def test_an_async_function_runs_and_answers_its_return_value(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="shout", inputs=[string("text", "quiet")]
        )
    assert answer.data.state == "FULFILLED"
    assert [(o.name, o.value) for o in answer.data.outputs] == [("value", "QUIET")]


def test_an_exception_in_user_code_is_a_rejected_execution_with_its_stacktrace(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="explode", inputs=[string("text", "x y")]
        )
        assert answer.data.state == "REJECTED"
        error = answer.data.error
        assert error.code == "USER_DEFINED_ERROR"
        assert error.message == "cannot handle 'x y'"
        assert error.stacktrace is not None
        assert "ValueError: cannot handle 'x y'" in error.stacktrace
        assert "in explode" in error.stacktrace

        status = client.workflows.workflow_execution_status(
            answer.execution_id, request_options=visible_now(runtime_server)
        )
        assert status.status == "REJECTED"
        assert status.error is not None
        assert (status.error.code, status.error.message) == (
            "USER_DEFINED_ERROR",
            "cannot handle 'x y'",
        )
        detail = _detail(client, runtime_server, answer.execution_id)
    # The node that ran before the exception is recorded, fulfilled.
    spans = _spans_by_label(detail)
    assert (spans["_count"].model_extra or {})["status"] == "FULFILLED"
    assert (spans["explode"].model_extra or {})["status"] == "REJECTED"


@pytest.mark.parametrize(
    ("levels", "reason"),
    [
        pytest.param(200, "nests objects and arrays deeper than 128 levels", id="refused"),
        pytest.param(300, "Recursion limit reached", id="not-even-json"),
    ],
)
def test_outputs_the_log_refuses_end_the_run_rejected_as_the_log_says(
    runtime_server: RunningServer, levels: int, reason: str
) -> None:
    with vellum_client(runtime_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="too-deep", inputs=[number("levels", levels)]
        )
        assert answer.data.state == "REJECTED"
        assert answer.data.error.code == "INTERNAL_SERVER_ERROR"
        assert reason in answer.data.error.message
        status = client.workflows.workflow_execution_status(
            answer.execution_id, request_options=visible_now(runtime_server)
        )
    # What was answered is what the log holds.
    assert status.status == "REJECTED"
    assert status.error is not None
    assert status.error.message == answer.data.error.message
    assert answer.execution_id in logged_execution_ids(runtime_server.env)


def test_a_rejected_sdk_workflow_answers_the_node_error(runtime_server: RunningServer) -> None:
    with vellum_client(runtime_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="failing", inputs=[string("text", " boom ")]
        )
    assert answer.data.state == "REJECTED"
    assert answer.data.error.code == "USER_DEFINED_ERROR"
    assert answer.data.error.message == "refusing to process 'boom'"


def test_inputs_of_each_vellum_type_arrive_as_the_python_values_declared(
    runtime_server: RunningServer,
) -> None:
    chat = [
        ChatMessageRequest(role="USER", text="hello"),
        ChatMessageRequest(role="ASSISTANT", text="hi, how can I help?"),
    ]
    with vellum_client(runtime_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="inspect",
            inputs=[
                json_input("payload", {"b": 1, "a": [2]}),
                WorkflowRequestChatHistoryInputRequest(name="chat", value=chat),
                number("ratio", 0.25),
            ],
            metadata={"source": "test"},
            external_id="typed-1",
        )
        assert fulfilled_outputs(answer) == {
            "payload_keys": ["a", "b"],
            "last_message": "hi, how can I help?",
            "chat_is_messages": True,
            "ratio": 0.5,
            "note": None,
        }
        detail = _detail(client, runtime_server, answer.execution_id)
    # The request's external_id and metadata are recorded with the execution.
    parent = detail.parent_context
    assert parent is not None
    assert parent.type == "WORKFLOW_RELEASE_TAG"
    assert (parent.model_dump().get("external_id"), parent.model_dump().get("metadata")) == (
        "typed-1",
        {"source": "test"},
    )


def _bad_request_fields(call: Any) -> set[str]:
    with pytest.raises(BadRequestError) as raised:
        call()
    body = raised.value.body
    assert isinstance(body, dict), body
    assert body["detail"], body
    return {error["field"] for error in body["errors"]}


def test_wrong_or_missing_inputs_are_a_400_naming_each_input(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        wrong = _bad_request_fields(
            lambda: client.execute_workflow(
                workflow_deployment_name="summarize",
                inputs=[number("text", 3), string("limit", "three"), string("bogus", "x")],
            )
        )
        assert wrong == {"inputs.text", "inputs.limit", "inputs.bogus"}
        missing = _bad_request_fields(
            lambda: client.execute_workflow(workflow_deployment_name="summarize", inputs=[])
        )
        assert missing == {"inputs.text"}
        sdk_missing = _bad_request_fields(
            lambda: client.execute_workflow_async(workflow_deployment_name="linear", inputs=[])
        )
        assert sdk_missing == {"inputs.text"}
        fractional = _bad_request_fields(
            lambda: client.execute_workflow(
                workflow_deployment_name="summarize",
                inputs=[string("text", "a"), number("limit", 1.5)],
            )
        )
        assert fractional == {"inputs.limit"}
        wrong_types = _bad_request_fields(
            lambda: client.execute_workflow(
                workflow_deployment_name="inspect",
                inputs=[
                    string("payload", "{}"),
                    json_input("chat", [{"role": "NOBODY"}]),
                    string("ratio", "0.5"),
                ],
            )
        )
        # A JSON input takes a value sent as any type, but a `dict` parameter needs an object.
        assert wrong_types == {"inputs.payload", "inputs.chat", "inputs.ratio"}
        native = _bad_request_fields(
            lambda: list(
                client.workflow_deployments.execute_stream(
                    "summarize", inputs={"text": 7, "extra": True}
                )
            )
        )
        assert native == {"inputs.text", "inputs.extra"}
    # A refused request records no execution.
    assert logged_execution_ids(runtime_server.env) == set()


def test_an_unknown_deployment_or_release_tag_is_a_404(runtime_server: RunningServer) -> None:
    with vellum_client(runtime_server) as client:
        for call in (
            lambda: client.execute_workflow(
                workflow_deployment_name="nope", inputs=[string("text", "a")]
            ),
            lambda: client.execute_workflow(
                workflow_deployment_id=str(uuid.uuid4()), inputs=[string("text", "a")]
            ),
            lambda: client.execute_workflow(
                workflow_deployment_name="summarize",
                release_tag="production",
                inputs=[string("text", "a")],
            ),
            lambda: client.execute_workflow_async(
                workflow_deployment_name="summarize",
                release_tag="no-such-tag",
                inputs=[string("text", "a")],
            ),
            lambda: list(
                client.execute_workflow_stream(
                    workflow_deployment_name="nope", inputs=[string("text", "a")]
                )
            ),
            lambda: list(client.workflow_deployments.execute_stream("nope", inputs={"text": "a"})),
        ):
            with pytest.raises(NotFoundError) as raised:
                call()
            assert raised.value.body["detail"]
    assert logged_execution_ids(runtime_server.env) == set()


def test_the_status_right_after_a_sync_run_is_its_outcome(
    runtime_server: RunningServer,
) -> None:
    """execute-workflow answered FULFILLED: a status read that follows must not say otherwise."""
    with vellum_client(runtime_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="summarize", inputs=[string("text", "a b")]
        )
        assert answer.data.state == "FULFILLED"
        status = client.workflows.workflow_execution_status(answer.execution_id)
    assert status.status == "FULFILLED"
    assert status.outputs == {"summary": "a b", "count": 2}


def test_the_detail_right_after_a_sync_run_is_found(runtime_server: RunningServer) -> None:
    """The execution an execute-workflow answer names can be read at once, without waiting."""
    with vellum_client(runtime_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="summarize", inputs=[string("text", "a b")]
        )
        detail = client.workflow_executions.retrieve_workflow_execution_detail(answer.execution_id)
    assert (detail.model_extra or {})["status"] == "FULFILLED"


@pytest.mark.parametrize("event_types", [[{}], [["NODE"]], ["NODE", 1], "WORKFLOW", ["SPAN"]])
def test_event_types_other_than_a_list_of_names_are_a_400(
    runtime_server: RunningServer, event_types: Any
) -> None:
    response = httpx.post(
        f"{runtime_server.base_url}/v1/execute-workflow-stream",
        json={
            "workflow_deployment_name": "summarize",
            "inputs": [{"type": "STRING", "name": "text", "value": "a b"}],
            "event_types": event_types,
        },
        headers=runtime_server.headers(),
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["event_types"]
    assert logged_execution_ids(runtime_server.env) == set()


def test_an_sdk_run_is_recorded_started_before_any_of_its_events(
    runtime_server: RunningServer,
) -> None:
    # Recovery runs again only a run with no "started": it must be in the log before any
    # user code runs, which is before the run's first event.
    with vellum_client(runtime_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="linear", inputs=[string("text", "early")]
        )
    ledger = open_ledger(Settings.from_env(runtime_server.env))
    try:
        records = ledger.recorder.select_notifications(start=1, limit=10_000)
        started = [
            r.id
            for r in records
            if r.topic.endswith("Run.Started") and r.originator_id == uuid.UUID(answer.execution_id)
        ]
        first_event = min(
            e.position
            for e in ledger.read(after=0, limit=10_000)
            if str(e.execution_id) == answer.execution_id
        )
    finally:
        ledger.close()
    assert len(started) == 1
    assert started[0] < first_event
