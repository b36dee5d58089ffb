"""Velt's and Datalab's reads of runs the runtime makes: queued, running, cancelled, deployed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.api.runtime_support import (
    cancel,
    deployed_server,
    number,
    string,
    visible_now,
    wait_for_status,
)
from tests.servers import RunningServer, vellum_client


@pytest.fixture(scope="module")
def one_worker(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    """One worker, so a second run waits queued behind the first."""
    with deployed_server(module_log_env, RUNLEDGER_WORKERS="1") as server:
        yield server


def velt(server: RunningServer, execution_id: str) -> dict[str, Any]:
    response = httpx.post(
        server.base_url + "/v2/workflow/executions/get",
        content=orjson.dumps({"data": {"executionId": execution_id}}),
        headers={"x-velt-api-key": server.api_key},
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


def datalab(server: RunningServer, execution_id: str) -> dict[str, Any]:
    detail = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/detail",
        headers=server.headers(),
    ).json()
    response = httpx.get(
        f"{server.base_url}/api/v1/workflows/executions/{detail['number']}",
        headers={"X-API-Key": server.api_key},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_queued_running_and_cancelled_runs(one_worker: RunningServer) -> None:
    with vellum_client(one_worker) as client:
        busy = client.execute_workflow_async(
            workflow_deployment_name="slow", inputs=[number("seconds", 2)]
        )
        wait_for_status(client, busy.execution_id, "INITIATED")
        queued = client.execute_workflow_async(
            workflow_deployment_name="slow", inputs=[number("seconds", 30)]
        )
        assert velt(one_worker, busy.execution_id)["status"] == "running"
        assert datalab(one_worker, busy.execution_id)["status"] in ("PENDING", "IN_PROGRESS")
        waiting = velt(one_worker, queued.execution_id)
        assert waiting["status"] == "queued"
        assert waiting["steps"] == []
        assert waiting["definitionId"] == "slow"
        assert waiting["definitionVersion"] == 1
        assert waiting["completedAt"] is None
        waiting_datalab = datalab(one_worker, queued.execution_id)
        assert waiting_datalab["status"] == "QUEUED"
        assert waiting_datalab["steps"] == {}

        assert cancel(one_worker, queued.execution_id).status_code == 202
        wait_for_status(client, queued.execution_id, {"REJECTED", "FULFILLED"}, 10)
        wait_for_status(client, busy.execution_id, {"REJECTED", "FULFILLED"})
        client.workflow_executions.retrieve_workflow_execution_detail(
            queued.execution_id, request_options=visible_now(one_worker)
        )
    cancelled = velt(one_worker, queued.execution_id)
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelledAt"] is not None
    assert cancelled["cancelledAt"] == cancelled["completedAt"]
    assert cancelled["failureReason"]
    assert datalab(one_worker, queued.execution_id)["status"] == "FAILED"
    done = velt(one_worker, busy.execution_id)
    assert done["status"] == "completed"
    assert done["cancelledAt"] is None
    assert datalab(one_worker, busy.execution_id)["status"] == "COMPLETED"


def test_a_deployed_sdk_run_names_its_release_and_the_callers_references(
    one_worker: RunningServer,
) -> None:
    with vellum_client(one_worker) as client:
        run = client.execute_workflow_async(
            workflow_deployment_name="linear",
            inputs=[string("text", "  hello  ")],
            external_id="campaign-42-dispatch",
            metadata={"correlation_id": "corr_campaign_42", "team": "growth"},
        )
        wait_for_status(client, run.execution_id, {"FULFILLED", "REJECTED"})
        client.workflow_executions.retrieve_workflow_execution_detail(
            run.execution_id, request_options=visible_now(one_worker)
        )
    result = velt(one_worker, run.execution_id)
    assert result["status"] == "completed"
    assert result["definitionId"] == "linear"
    assert result["definitionVersion"] == 1
    assert result["idempotencyKey"] == "campaign-42-dispatch"
    assert result["correlationId"] == "corr_campaign_42"
    assert [step["nodeType"] for step in result["steps"]] == ["Strip", "Upper", "Exclaim"]
    assert [step["output"] for step in result["steps"]] == [
        {"result": "hello"},
        {"result": "HELLO"},
        {"result": "HELLO!"},
    ]
    assert all(step["groupId"] is None for step in result["steps"])
    status = datalab(one_worker, run.execution_id)
    assert status["status"] == "COMPLETED"
    assert list(status["steps"]) == ["Strip", "Upper", "Exclaim"]
    last = httpx.get(status["steps"]["Exclaim"]["output_url"])
    assert last.json() == {"result": "HELLO!"}
