"""`GET /v1/workflows/{span_id}/state` and runs chained with `previous_execution_id`."""

from __future__ import annotations

import uuid

import httpx
import pytest
from vellum.client.core.api_error import ApiError

from tests.api.runtime_support import (
    fulfilled_outputs,
    number,
    runtime_server_fixture,  # noqa: F401  (the runtime_server fixture)
    string,
)
from tests.servers import RunningServer, post_events, vellum_client


@pytest.mark.parametrize("deployment", ["counter", "tally"], ids=["function", "sdk"])
def test_a_chained_run_continues_from_the_state_of_the_previous_one(
    runtime_server: RunningServer, deployment: str
) -> None:
    with vellum_client(runtime_server) as client:
        first = client.execute_workflow(
            workflow_deployment_name=deployment, inputs=[number("step", 2)]
        )
        assert fulfilled_outputs(first) == {"total": 2}
        second = client.execute_workflow(
            workflow_deployment_name=deployment,
            inputs=[number("step", 3)],
            previous_execution_id=first.execution_id,
        )
        assert fulfilled_outputs(second) == {"total": 5}
        third = client.execute_workflow(
            workflow_deployment_name=deployment,
            inputs=[number("step", 10)],
            previous_execution_id=second.execution_id,
        )
        assert fulfilled_outputs(third) == {"total": 15}
        # An unchained run starts afresh.
        fresh = client.execute_workflow(
            workflow_deployment_name=deployment, inputs=[number("step", 1)]
        )
        assert fulfilled_outputs(fresh) == {"total": 1}

        state = client.workflows.retrieve_state(third.execution_id)
    assert state.span_id == third.execution_id
    resolved = state.state
    assert isinstance(resolved, dict)
    total = resolved["outputs"]["total"] if deployment == "counter" else resolved["total"]
    assert total == 15


def test_the_state_of_a_function_run_holds_its_inputs_and_outputs(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        run = client.execute_workflow(
            workflow_deployment_name="summarize", inputs=[string("text", "x y z")]
        )
        state = client.workflows.retrieve_state(run.execution_id)
    assert state.span_id == run.execution_id
    assert state.trace_id
    assert state.state is not None
    assert state.state["inputs"] == {"text": "x y z", "limit": 3}  # with its default
    assert state.state["outputs"] == {"summary": "x y z", "count": 3}


def test_the_state_of_an_sdk_run_links_the_run_it_continued(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        first = client.execute_workflow(
            workflow_deployment_name="tally", inputs=[number("step", 4)]
        )
        second = client.execute_workflow(
            workflow_deployment_name="tally",
            inputs=[number("step", 1)],
            previous_execution_id=first.execution_id,
        )
        state = client.workflows.retrieve_state(second.execution_id)
    assert state.state is not None
    assert state.state["total"] == 5
    assert state.previous_span_id == first.execution_id


def test_the_state_of_an_unknown_execution_is_a_404(runtime_server: RunningServer) -> None:
    with vellum_client(runtime_server) as client, pytest.raises(ApiError) as raised:
        client.workflows.retrieve_state(str(uuid.uuid4()))
    assert raised.value.status_code == 404


def test_a_link_whose_ids_are_not_uuids_leaves_them_out_of_the_state(
    sqlite_server: RunningServer,
) -> None:
    # Ingest keeps a link's ids as sent (Vellum's SpanLink types them as strings); the state
    # read parsed them as UUIDs and answered a 500.
    execution_id, trace_id = str(uuid.uuid4()), str(uuid.uuid4())
    link = {"trace_id": "not-a-uuid", "type": "PREVIOUS_SPAN", "span_context": {"span_id": "x"}}
    events = [
        {
            "id": str(uuid.uuid4()),
            "name": f"workflow.execution.{name}",
            "timestamp": f"2026-11-23T12:00:0{second}Z",
            "trace_id": trace_id,
            "span_id": execution_id,
            "parent": None,
            "links": [link] if name == "initiated" else None,
            "body": body,
        }
        for second, (name, body) in enumerate(
            [("initiated", {"inputs": {}}), ("snapshotted", {"state": {"step": 1}})]
        )
    ]
    post_events(sqlite_server, events)
    response = httpx.get(
        f"{sqlite_server.base_url}/v1/workflows/{execution_id}/state",
        headers=sqlite_server.headers(),
    )
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["state"] == {"step": 1}
    assert (state["previous_trace_id"], state["previous_span_id"]) == (None, None)
