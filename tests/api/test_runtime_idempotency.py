"""`external_id`: a repeated request answers the same execution, a different one is a 409."""

from __future__ import annotations

import threading
import time

import httpx
import orjson
import pytest
from vellum.client.core.api_error import ApiError

from tests.api.runtime_support import (
    ENTRYPOINTS,
    STANDARD,
    Release,
    deployed_server,
    logged_execution_ids,
    runtime_server_fixture,  # noqa: F401  (the runtime_server fixture)
    string,
    wait_for_status,
)
from tests.servers import RunningServer, create_key, vellum_client


def test_a_repeated_request_answers_the_execution_of_the_first(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        first = client.execute_workflow(
            workflow_deployment_name="summarize",
            inputs=[string("text", "same body")],
            external_id="order-1",
            metadata={"user": "ada"},
        )
        again = client.execute_workflow(
            workflow_deployment_name="summarize",
            inputs=[string("text", "same body")],
            external_id="order-1",
            metadata={"user": "ada"},
        )
        assert again.execution_id == first.execution_id
        assert again.external_id == first.external_id == "order-1"
        assert again.data.state == first.data.state == "FULFILLED"
        assert again.data.id == first.data.id  # the terminal event's, read back from the log
        assert [o.value for o in again.data.outputs] == [o.value for o in first.data.outputs]
        # The async endpoint and the stream answer the same execution too.
        async_again = client.execute_workflow_async(
            workflow_deployment_name="summarize",
            inputs=[string("text", "same body")],
            external_id="order-1",
            metadata={"user": "ada"},
        )
        assert async_again.execution_id == first.execution_id
        streamed = list(
            client.execute_workflow_stream(
                workflow_deployment_name="summarize",
                inputs=[string("text", "same body")],
                external_id="order-1",
                metadata={"user": "ada"},
            )
        )
        assert {e.execution_id for e in streamed} == {first.execution_id}
        assert [e.data.state for e in streamed] == ["INITIATED", "FULFILLED"]
    assert logged_execution_ids(runtime_server.env) == {first.execution_id}


def test_a_repeated_async_request_answers_the_same_execution(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        ids = {
            client.execute_workflow_async(
                workflow_deployment_name="linear",
                inputs=[string("text", " once ")],
                external_id="job-7",
            ).execution_id
            for _ in range(3)
        }
        assert len(ids) == 1
        (execution_id,) = ids
        wait_for_status(client, execution_id, "FULFILLED")
    assert logged_execution_ids(runtime_server.env) == ids


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"inputs": [{"name": "text", "type": "STRING", "value": "b"}]}, id="inputs"),
        pytest.param({"metadata": {"user": "bob"}}, id="metadata"),
        pytest.param({"workflow_deployment_name": "shout"}, id="deployment"),
    ],
)
def test_the_same_external_id_with_a_different_request_is_a_409_naming_the_execution(
    runtime_server: RunningServer, change: dict[str, object]
) -> None:
    request = {
        "workflow_deployment_name": "summarize",
        "inputs": [{"name": "text", "type": "STRING", "value": "a"}],
        "external_id": "ticket-42",
        "metadata": {"user": "ada"},
    }
    with vellum_client(runtime_server) as client:
        first = client.execute_workflow(**request)  # type: ignore[arg-type]
        with pytest.raises(ApiError) as raised:
            client.execute_workflow(**{**request, **change})  # type: ignore[arg-type]
    assert raised.value.status_code == 409
    body = raised.value.body
    assert isinstance(body, dict)
    assert body["execution_id"] == first.execution_id
    assert first.execution_id in body["detail"]
    assert [e["field"] for e in body["errors"]] == ["external_id"]
    assert logged_execution_ids(runtime_server.env) == {first.execution_id}


def test_an_external_id_is_unique_per_workspace_only(sqlite_env: dict[str, str]) -> None:
    theirs = Release("summarize", f"{ENTRYPOINTS}:summarize", workspace="other")
    with deployed_server(sqlite_env, (*STANDARD, theirs)) as server:
        other = RunningServer(server.base_url, create_key(server.env, "other"), server.env)
        answers = []
        for running in (server, other):
            with vellum_client(running) as client:
                answers.append(
                    client.execute_workflow(
                        workflow_deployment_name="summarize",
                        inputs=[string("text", "a")],
                        external_id="shared-name",
                    )
                )
    ours, their = answers
    assert ours.data.state == their.data.state == "FULFILLED"
    assert ours.execution_id != their.execution_id


def test_a_stream_repeated_while_the_run_is_in_flight_replays_every_event(
    runtime_server: RunningServer,
) -> None:
    url = f"{runtime_server.base_url}/v1/workflow-deployments/slow/execute-stream"
    body = {"inputs": {"seconds": 0.5}, "external_id": "stream-twice"}
    streams: dict[str, list[str]] = {}

    def stream(name: str) -> None:
        response = httpx.post(url, json=body, headers=runtime_server.headers(), timeout=30)
        streams[name] = [orjson.loads(line)["name"] for line in response.text.splitlines()]

    first = threading.Thread(target=stream, args=("first",))
    first.start()
    time.sleep(0.2)  # the run has started and not ended
    stream("repeat")
    first.join(timeout=30)
    assert streams["first"][-1] == "workflow.execution.fulfilled"
    assert streams["repeat"] == streams["first"]
