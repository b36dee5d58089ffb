"""`GET /v1/workflows/executions/{id}/status` through vellum-ai's own client and models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from vellum.client.core.api_error import ApiError
from vellum.client.types import CheckWorkflowExecutionStatusResponse

from api.app import open_ledger
from api.settings import Settings
from domain.envelope import Envelope, validate_event
from domain.keys import workspace_id_for
from tests.events import execution, node_event, workflow_event
from tests.sdk_workflows import SDK_WORKFLOWS, root_execution, to_models
from tests.servers import (
    RunningServer,
    create_key,
    position_token,
    post_events,
    server_in_thread,
    vellum_client,
)


@pytest.fixture(scope="module")
def server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    """One server per log backend for the module (each start costs seconds): its tests read
    only the executions they post."""
    with server_in_thread(module_log_env) as running:
        yield running


EXPECTED = {
    "linear": "FULFILLED",
    "failing": "REJECTED",
    "parallel": "FULFILLED",
    "nested": "FULFILLED",
    "map": "FULFILLED",
}


def _status(
    server: RunningServer, execution_id: Any, position: str
) -> CheckWorkflowExecutionStatusResponse:
    with vellum_client(server) as client:
        return client.workflows.workflow_execution_status(
            str(execution_id),
            request_options={"additional_query_parameters": {"min_log_position": position}},
        )


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in SDK_WORKFLOWS])
def test_the_official_client_reads_the_status_of_sdk_runs(server: RunningServer, name: str) -> None:
    events = SDK_WORKFLOWS[name]()
    root = root_execution(events)
    with vellum_client(server) as client:
        answer = client.events.create(request=to_models(events))
    position = str((answer.model_extra or {})["log_position"])
    status = _status(server, root, position)
    assert status.status == EXPECTED[name]
    assert status.execution_id == str(root)
    assert status.execution_detail_url == f"{server.base_url}/v1/workflow-executions/{root}/detail"
    fulfilled = [
        e
        for e in events
        if e["span_id"] == str(root) and e["name"] == "workflow.execution.fulfilled"
    ]
    if status.status == "FULFILLED":
        assert status.outputs == fulfilled[0]["body"]["outputs"]
        assert status.error is None
    else:
        assert status.outputs is None
        assert status.error is not None
        assert status.error.code == "USER_DEFINED_ERROR"
        assert status.error.message


def test_status_follows_the_lifecycle_as_events_arrive(server: RunningServer) -> None:
    ex = str(uuid.uuid4())
    node = str(uuid.uuid4())
    assert (
        _status(server, ex, post_events(server, [node_event("initiated", ex, node, 5)])).status
        == "INITIATED"
    )
    assert (
        _status(server, ex, post_events(server, [workflow_event("streaming", ex, 7)])).status
        == "STREAMING"
    )
    fulfilled = workflow_event("fulfilled", ex, 20)
    fulfilled["body"]["outputs"] = {"answer": 42}
    assert _status(server, ex, post_events(server, [fulfilled])).outputs == {"answer": 42}
    # A late initiated, and a contradictory later rejection, change nothing.
    late = [workflow_event("initiated", ex, 0), workflow_event("rejected", ex, 30)]
    status = _status(server, ex, post_events(server, late))
    assert status.status == "FULFILLED"
    assert status.outputs == {"answer": 42}


def test_an_unknown_or_foreign_execution_is_a_404(server: RunningServer) -> None:
    events = execution(node_count=1)
    foreign_key = create_key(server.env, workspace="someone-else")
    foreign_position = post_events(server, events, key=foreign_key)
    visible = httpx.get(
        f"{server.base_url}/v1/workflows/executions/{events[0]['span_id']}/status",
        params={"min_log_position": foreign_position},
        headers={"X-API-KEY": foreign_key},
    )
    assert visible.status_code == 200
    position = post_events(server, execution(node_count=0))
    for execution_id in (events[0]["span_id"], str(uuid.uuid4())):
        with pytest.raises(ApiError) as raised:
            _status(server, execution_id, position)
        assert raised.value.status_code == 404


def test_a_malformed_execution_id_or_position_is_a_400_naming_it(server: RunningServer) -> None:
    for path, field in (
        ("/v1/workflows/executions/not-a-uuid/status", "execution_id"),
        (f"/v1/workflows/executions/{uuid.uuid4()}/status?min_log_position=x", "min_log_position"),
        # A negative position used to be taken as already visible and answered 200.
        (f"/v1/workflows/executions/{uuid.uuid4()}/status?min_log_position=-1", "min_log_position"),
    ):
        response = httpx.get(server.base_url + path, headers=server.headers())
        assert response.status_code == 400, path
        assert response.json()["errors"][0]["field"] == field, path


def test_a_position_beyond_the_log_is_a_400_at_once(server: RunningServer) -> None:
    post_events(server, execution(node_count=0))
    # Only a log restored from an older copy lacks a position it once answered.
    beyond = position_token(server.env, server.readiness()["log_position"] + 1000)
    response = httpx.get(
        f"{server.base_url}/v1/workflows/executions/{uuid.uuid4()}/status",
        params={"min_log_position": beyond},
        headers=server.headers(),
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "min_log_position"
    assert response.elapsed.total_seconds() < 5  # not the 10 s wait


def test_a_position_not_visible_in_time_is_a_503_with_retry_after(
    sqlite_env: dict[str, str],
) -> None:
    env = {**sqlite_env, "RUNLEDGER_PROJECTOR": "off", "RUNLEDGER_READ_WAIT_SECONDS": "0.2"}
    with server_in_thread(env) as server:
        position = post_events(server, execution(node_count=0))
        response = httpx.get(
            f"{server.base_url}/v1/workflows/executions/{uuid.uuid4()}/status",
            params={"min_log_position": position},
            headers=server.headers(),
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "not visible yet" in response.json()["detail"]


def test_a_stored_error_message_that_is_not_a_string_is_named_not_served(
    sqlite_server: RunningServer,
) -> None:
    # Ingest now refuses such an error (tests/domain/test_envelope.py); one logged before
    # was answered as {"message": 5, "code": ["X"]}, which the official client cannot read: it
    # is left out and named in `unreadable`.
    execution_id = str(uuid.uuid4())
    post_events(sqlite_server, [workflow_event("initiated", execution_id)])
    rejected = workflow_event("rejected", execution_id, offset_ms=5)
    rejected["body"]["error"] = {"message": "m", "code": "C"}
    envelope = validate_event(rejected, orjson.dumps(rejected), 0)
    assert isinstance(envelope, Envelope)
    rejected["body"]["error"] = {"message": 5, "code": ["X"]}
    ledger = open_ledger(Settings.from_env(sqlite_server.env))
    try:
        appended = ledger.append(
            workspace_id_for("tests"),
            [replace(envelope, raw=orjson.dumps(rejected))],
            datetime.now(UTC),
        )
    finally:
        ledger.close()
    assert appended.positions[0] is not None
    status = _status(sqlite_server, execution_id, position_token(sqlite_server.env))
    assert status.status == "REJECTED"
    assert status.error is None
    assert (status.model_extra or {})["unreadable"] == [
        {"field": "error.message", "reason": "is missing or not a string"}
    ]
