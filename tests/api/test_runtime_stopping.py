"""Stopping runs in flight: `POST /v1/workflows/executions/{id}/cancel`, and release timeouts."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from vellum import ExecuteWorkflowResponse

from tests.api.runtime_support import (
    ENTRYPOINTS,
    STANDARD,
    Release,
    cancel,
    deployed_server,
    number,
    visible_now,
    wait_for_status,
)
from tests.servers import RunningServer, create_key, vellum_client

LIMITED = (
    Release("slow-limited", f"{ENTRYPOINTS}:slow", timeout_seconds=0.5),
    Release("slow-sdk-limited", f"{ENTRYPOINTS}:SlowWorkflow", timeout_seconds=0.5),
)


@pytest.fixture
def stopping_server(sqlite_env: dict[str, str]) -> Iterator[RunningServer]:
    with deployed_server(sqlite_env, (*STANDARD, *LIMITED)) as server:
        yield server


@pytest.mark.parametrize(
    ("deployment", "seconds"), [("slow", 30), ("slow-sdk", 3)], ids=["function", "sdk"]
)
def test_cancelling_a_running_execution_rejects_it_as_cancelled_at_once(
    stopping_server: RunningServer, deployment: str, seconds: float
) -> None:
    with vellum_client(stopping_server) as client:
        run = client.execute_workflow_async(
            workflow_deployment_name=deployment, inputs=[number("seconds", seconds)]
        )
        wait_for_status(client, run.execution_id, "INITIATED")
        asked = time.monotonic()
        response = cancel(stopping_server, run.execution_id)
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["execution_id"] == run.execution_id
        assert body["cancelled_at"]
        status = wait_for_status(client, run.execution_id, {"REJECTED", "FULFILLED"}, timeout=5)
        assert time.monotonic() - asked < 2.5  # stopped, not waited out
        assert status.status == "REJECTED"
        assert status.error is not None
        assert status.error.code == "WORKFLOW_CANCELLED"

        again = cancel(stopping_server, run.execution_id)
        assert again.status_code == 409, again.text
        assert again.json()["detail"]

        detail = client.workflow_executions.retrieve_workflow_execution_detail(
            run.execution_id, request_options=visible_now(stopping_server)
        )
    assert (detail.model_extra or {})["status"] == "REJECTED"
    # The cancel time is what the execution records as its end.
    cancelled_at = datetime.fromisoformat(body["cancelled_at"])
    assert detail.end is not None
    assert abs((detail.end - cancelled_at).total_seconds()) < 0.5


def test_a_waiting_execute_workflow_answers_the_cancellation(
    stopping_server: RunningServer,
) -> None:
    answers: list[ExecuteWorkflowResponse] = []

    def run_and_wait() -> None:
        with vellum_client(stopping_server) as client:
            answers.append(
                client.execute_workflow(
                    workflow_deployment_name="slow",
                    inputs=[number("seconds", 30)],
                    external_id="waited-on",
                )
            )

    waiter = threading.Thread(target=run_and_wait)
    started = time.monotonic()
    waiter.start()
    with vellum_client(stopping_server) as client:
        # The same external_id and body answer the waiter's execution.
        execution_id = client.execute_workflow_async(
            workflow_deployment_name="slow",
            inputs=[number("seconds", 30)],
            external_id="waited-on",
        ).execution_id
        wait_for_status(client, execution_id, "INITIATED")
    assert cancel(stopping_server, execution_id).status_code == 202
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert time.monotonic() - started < 10
    (answer,) = answers
    assert answer.execution_id == execution_id
    assert answer.data.state == "REJECTED"
    assert answer.data.error.code == "WORKFLOW_CANCELLED"


def test_a_queued_run_cancelled_is_rejected_as_of_the_moment_it_was_cancelled(
    sqlite_env: dict[str, str],
) -> None:
    with (
        deployed_server(sqlite_env, RUNLEDGER_WORKERS="1") as server,
        vellum_client(server) as client,
    ):
        busy = client.execute_workflow_async(
            workflow_deployment_name="slow", inputs=[number("seconds", 1)]
        )
        wait_for_status(client, busy.execution_id, "INITIATED")
        queued = client.execute_workflow_async(
            workflow_deployment_name="slow", inputs=[number("seconds", 30)]
        )
        assert client.workflows.workflow_execution_status(queued.execution_id).status == "PENDING"
        assert cancel(server, queued.execution_id).status_code == 202
        status = wait_for_status(client, queued.execution_id, {"REJECTED", "FULFILLED"}, 10)
        assert status.status == "REJECTED"
        assert status.error is not None
        assert status.error.code == "WORKFLOW_CANCELLED"
        done = wait_for_status(client, busy.execution_id, {"REJECTED", "FULFILLED"})
        assert done.status == "FULFILLED"
        options = visible_now(server)
        busy_detail, queued_detail = (
            client.workflow_executions.retrieve_workflow_execution_detail(
                run.execution_id, request_options=options
            )
            for run in (busy, queued)
        )
    # Recorded as of the cancel, while the busy run still held the only worker.
    assert queued_detail.end is not None
    assert busy_detail.end is not None
    assert queued_detail.end < busy_detail.end


def test_cancelling_an_unknown_or_foreign_execution_is_a_404(
    stopping_server: RunningServer,
) -> None:
    with vellum_client(stopping_server) as client:
        run = client.execute_workflow_async(
            workflow_deployment_name="slow", inputs=[number("seconds", 30)]
        )
    foreign = RunningServer(
        stopping_server.base_url, create_key(stopping_server.env, "other"), stopping_server.env
    )
    assert cancel(foreign, run.execution_id).status_code == 404
    assert cancel(stopping_server, str(uuid.uuid4())).status_code == 404
    assert cancel(stopping_server, "not-a-uuid").status_code == 400
    assert cancel(stopping_server, run.execution_id).status_code == 202


@pytest.mark.parametrize(
    ("deployment", "seconds"),
    [("slow-limited", 30), ("slow-sdk-limited", 3)],
    ids=["function", "sdk"],
)
def test_a_run_longer_than_its_release_timeout_is_rejected_as_timed_out(
    stopping_server: RunningServer, deployment: str, seconds: float
) -> None:
    with vellum_client(stopping_server) as client:
        started = time.monotonic()
        answer = client.execute_workflow(
            workflow_deployment_name=deployment, inputs=[number("seconds", seconds)]
        )
        elapsed = time.monotonic() - started
        assert answer.data.state == "REJECTED"
        assert answer.data.error.code == "WORKFLOW_TIMEOUT"
        assert "0.5" in answer.data.error.message
        assert 0.5 <= elapsed < 2.5
        status = client.workflows.workflow_execution_status(
            answer.execution_id, request_options=visible_now(stopping_server)
        )
    assert status.status == "REJECTED"
    assert status.error is not None
    assert status.error.code == "WORKFLOW_TIMEOUT"


def test_a_run_within_its_release_timeout_is_fulfilled(stopping_server: RunningServer) -> None:
    with vellum_client(stopping_server) as client:
        answer = client.execute_workflow(
            workflow_deployment_name="slow-limited", inputs=[number("seconds", 0.05)]
        )
    assert answer.data.state == "FULFILLED"
