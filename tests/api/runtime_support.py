"""Servers with workflow deployments registered, and helpers to drive the runtime over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from vellum import (
    ExecuteWorkflowResponse,
    FulfilledExecuteWorkflowWorkflowResultEvent,
    Vellum,
    WorkflowRequestJsonInputRequest,
    WorkflowRequestNumberInputRequest,
    WorkflowRequestStringInputRequest,
)
from vellum.client.core.request_options import RequestOptions

from api.app import open_ledger
from api.settings import Settings
from domain.deployments import Deployments
from domain.keys import workspace_id_for
from tests.servers import RunningServer, position_token, server_in_thread

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKSPACE = "tests"  # the workspace of tests.servers.create_key's keys

Event = dict[str, Any]
_T = TypeVar("_T")


@dataclass(frozen=True)
class Release:
    """One `runledger deploy` worth of a deployment."""

    name: str
    entrypoint: str
    tags: tuple[str, ...] = ()
    timeout_seconds: float | None = None
    workspace: str = WORKSPACE


ENTRYPOINTS = "tests.runtime.entrypoints"
SDK = "tests.sdk_workflows"
STANDARD = (
    Release("summarize", f"{ENTRYPOINTS}:summarize"),
    Release("explode", f"{ENTRYPOINTS}:explode"),
    Release("slow", f"{ENTRYPOINTS}:slow"),
    Release("too-deep", f"{ENTRYPOINTS}:too_deep"),
    Release("counter", f"{ENTRYPOINTS}:counter"),
    Release("shout", f"{ENTRYPOINTS}:shout"),
    Release("tally", f"{ENTRYPOINTS}:TallyWorkflow"),
    Release("slow-sdk", f"{ENTRYPOINTS}:SlowWorkflow"),
    Release("inspect", f"{ENTRYPOINTS}:inspect_inputs"),
    Release("linear", f"{SDK}:LinearWorkflow"),
    Release("failing", f"{SDK}:FailingWorkflow"),
    Release("nested", f"{SDK}:NestedWorkflow"),
    Release("map", f"{SDK}:MapWorkflow"),
)


def register(env: Mapping[str, str], releases: Sequence[Release]) -> dict[str, str]:
    """Register releases in the env's log (the server need not run); name -> deployment id."""
    ledger = open_ledger(Settings.from_env(env))
    try:
        deployments = Deployments(ledger)
        ids = {}
        for release in releases:
            deployment, _, _ = deployments.register(
                workspace_id_for(release.workspace),
                release.name,
                release.entrypoint,
                tags=release.tags,
                timeout_seconds=release.timeout_seconds,
            )
            ids[release.name] = str(deployment.id)
        return ids
    finally:
        ledger.close()


@contextmanager
def deployed_server(
    env: Mapping[str, str], releases: Sequence[Release] = STANDARD, **settings: str
) -> Iterator[RunningServer]:
    """A server in this process with the releases registered before it started.

    `settings` are extra environment variables, e.g. `RUNLEDGER_WORKERS="1"`.
    """
    env = {**env, **settings}
    register(env, releases)
    with server_in_thread(env) as server:
        yield server


@pytest.fixture(name="runtime_server")
def runtime_server_fixture(sqlite_env: dict[str, str]) -> Iterator[RunningServer]:
    """A server on the embedded default with the standard deployments."""
    with deployed_server(sqlite_env) as server:
        yield server


# --- inputs ---------------------------------------------------------------------------------


def string(name: str, value: str) -> WorkflowRequestStringInputRequest:
    return WorkflowRequestStringInputRequest(name=name, value=value)


def number(name: str, value: float) -> WorkflowRequestNumberInputRequest:
    return WorkflowRequestNumberInputRequest(name=name, value=value)


def json_input(name: str, value: Any) -> WorkflowRequestJsonInputRequest:
    return WorkflowRequestJsonInputRequest(name=name, value=value)


def fulfilled_outputs(answer: ExecuteWorkflowResponse) -> dict[str, Any]:
    """The outputs of an execute-workflow answer that must be FULFILLED, by name."""
    data = answer.data
    assert isinstance(data, FulfilledExecuteWorkflowWorkflowResultEvent), data
    return {output.name: output.value for output in data.outputs}


# --- reading --------------------------------------------------------------------------------


def visible_now(server: RunningServer) -> RequestOptions:
    """Request options that make a read wait until everything logged so far is visible."""
    return {"additional_query_parameters": {"min_log_position": position_token(server.env)}}


def eventually(
    read: Callable[[], _T], done: Callable[[_T], bool], timeout: float = 15.0, what: str = ""
) -> _T:
    """Poll `read` every few milliseconds until `done` holds; fail with the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what or 'condition'} not reached in {timeout}s; last: {value!r}")
        time.sleep(0.02)


def status_json(server: RunningServer, execution_id: str, **params: Any) -> dict[str, Any]:
    """The status endpoint's whole JSON body (extra keys included)."""
    response = httpx.get(
        f"{server.base_url}/v1/workflows/executions/{execution_id}/status",
        params=params,
        headers=server.headers(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_status(
    client: Vellum, execution_id: str, wanted: str | set[str], timeout: float = 15.0
) -> Any:
    """Poll the official client's status call until it reports one of `wanted`."""
    states = {wanted} if isinstance(wanted, str) else wanted
    return eventually(
        lambda: client.workflows.workflow_execution_status(execution_id),
        lambda status: status.status in states,
        timeout,
        f"status {sorted(states)} of {execution_id}",
    )


def logged_events(env: Mapping[str, str], execution_id: str) -> list[Event]:
    """Every event of the execution as the log holds it, in log order."""
    ledger = open_ledger(Settings.from_env(env))
    try:
        events: list[Event] = []
        position = 0
        while batch := ledger.read(after=position, limit=10_000):
            events.extend(orjson.loads(e.raw) for e in batch if str(e.execution_id) == execution_id)
            position = batch[-1].position
        return events
    finally:
        ledger.close()


def logged_execution_ids(env: Mapping[str, str]) -> set[str]:
    """The executions the log holds events of."""
    ledger = open_ledger(Settings.from_env(env))
    try:
        ids: set[str] = set()
        position = 0
        while batch := ledger.read(after=position, limit=10_000):
            ids.update(str(e.execution_id) for e in batch)
            position = batch[-1].position
        return ids
    finally:
        ledger.close()


def raw_ndjson(server: RunningServer, path: str, body: Mapping[str, Any]) -> list[bytes]:
    """POST and read a newline-delimited JSON stream line by line, as sent."""
    with (
        httpx.Client(timeout=60) as http,
        http.stream(
            "POST", server.base_url + path, content=orjson.dumps(body), headers=server.headers()
        ) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("application/x-ndjson")
        return [line.encode() for line in response.iter_lines() if line]


def cancel(server: RunningServer, execution_id: str) -> httpx.Response:
    """`POST /v1/workflows/executions/{id}/cancel` (the official client has no method for it)."""
    return httpx.post(
        f"{server.base_url}/v1/workflows/executions/{execution_id}/cancel",
        headers={"X-API-KEY": server.api_key},
        timeout=30,
    )
