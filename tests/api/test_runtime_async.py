"""`POST /v1/execute-workflow-async`: the execution id at once, PENDING while workers are busy."""

from __future__ import annotations

import time

import httpx

from tests.api.runtime_support import (
    deployed_server,
    number,
    runtime_server_fixture,  # noqa: F401  (the runtime_server fixture)
    string,
    visible_now,
    wait_for_status,
)
from tests.servers import RunningServer, vellum_client


def test_an_async_run_answers_its_execution_id_at_once_and_is_polled_to_its_outcome(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        started = time.monotonic()
        accepted = client.execute_workflow_async(
            workflow_deployment_name="slow", inputs=[number("seconds", 1.5)]
        )
        assert time.monotonic() - started < 1.0  # answered before the run could have ended
        assert client.workflows.workflow_execution_status(accepted.execution_id).status in {
            "PENDING",
            "INITIATED",
        }
        done = wait_for_status(client, accepted.execution_id, {"FULFILLED", "REJECTED"})
    assert done.status == "FULFILLED"
    assert done.outputs == {"slept": 1.5}
    assert done.execution_id == accepted.execution_id


def test_an_async_sdk_run_is_polled_to_its_outcome(runtime_server: RunningServer) -> None:
    with vellum_client(runtime_server) as client:
        accepted = client.execute_workflow_async(
            workflow_deployment_name="linear", inputs=[string("text", " async ")]
        )
        done = wait_for_status(client, accepted.execution_id, {"FULFILLED", "REJECTED"})
    assert (done.status, done.outputs) == ("FULFILLED", {"result": "ASYNC!"})


def test_a_run_waits_as_pending_while_every_worker_is_busy(sqlite_env: dict[str, str]) -> None:
    with (
        deployed_server(sqlite_env, RUNLEDGER_WORKERS="1") as server,
        vellum_client(server) as client,
    ):
        busy = client.execute_workflow_async(
            workflow_deployment_name="slow", inputs=[number("seconds", 2)]
        )
        wait_for_status(client, busy.execution_id, "INITIATED")
        queued = client.execute_workflow_async(
            workflow_deployment_name="summarize", inputs=[string("text", "wait for it")]
        )
        pending = client.workflows.workflow_execution_status(queued.execution_id)
        assert pending.status == "PENDING"
        assert pending.outputs is None
        assert pending.error is None
        assert client.workflows.workflow_execution_status(busy.execution_id).status == "INITIATED"
        # The list reads the same projections as status: the queued run is listed as it waits.
        listed = httpx.get(
            f"{server.base_url}/v1/workflow-executions",
            params={"q": "status = 'PENDING'"},
            headers=server.headers(),
        ).json()["results"]
        assert [(i["id"], i["deployment"]["name"]) for i in listed] == [
            (queued.execution_id, "summarize")
        ]

        done = wait_for_status(client, queued.execution_id, {"FULFILLED", "REJECTED"})
        assert done.status == "FULFILLED"
        assert done.outputs == {"summary": "wait for it", "count": 3}
        first = wait_for_status(client, busy.execution_id, {"FULFILLED", "REJECTED"})
        assert first.status == "FULFILLED"
        # The queued run started only once the busy one had ended.
        options = visible_now(server)
        busy_detail, queued_detail = (
            client.workflow_executions.retrieve_workflow_execution_detail(
                run.execution_id, request_options=options
            )
            for run in (busy, queued)
        )
        assert busy_detail.end is not None
        assert queued_detail.start >= busy_detail.end
