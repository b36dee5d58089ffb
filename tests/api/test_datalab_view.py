"""Datalab's `GET /api/v1/workflows/executions/{execution_id}` over HTTP, by the execution's
number, with each finished step's output behind a signed link."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.events import Event
from tests.sdk_workflows import SDK_RUNS_AND_ONE_RUNNING, SDK_WORKFLOWS, root_execution
from tests.servers import RunningServer, create_key, post_events, post_visible, server_in_thread
from tests.steps import expected_spans, naive_utc

STATUS_OF = {"FULFILLED": "COMPLETED", "REJECTED": "FAILED", "RUNNING": "IN_PROGRESS"}
URL = "/api/v1/workflows/executions/"


@pytest.fixture(scope="module")
def datalab_server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    # Links good for 3 s, so a test can see one expire.
    with server_in_thread({**module_log_env, "RUNLEDGER_PAYLOAD_URL_SECONDS": "3"}) as running:
        yield running


@pytest.fixture(scope="module")
def sdk_runs(datalab_server: RunningServer) -> dict[str, list[Event]]:
    """Each SDK workflow's events, posted once and visible."""
    runs = {name: make() for name, make in SDK_RUNS_AND_ONE_RUNNING.items()}
    post_visible(datalab_server, list(runs.values()))
    return runs


def number_of(server: RunningServer, execution_id: str) -> int:
    """The execution's number as the detail shows it, checked against the list's."""
    detail = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/detail",
        params={"span_limit": 1},
        headers=server.headers(),
    ).json()
    listed = httpx.get(
        f"{server.base_url}/v1/workflow-executions",
        params={"limit": 1000},
        headers=server.headers(),
    ).json()
    (item,) = [item for item in listed["results"] if item["id"] == execution_id]
    assert item["number"] == detail["number"]
    number: int = detail["number"]
    return number


def datalab_get(server: RunningServer, number: object, key: str | None = None) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}{URL}{number}", headers={"X-API-Key": key or server.api_key}
    )


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in SDK_RUNS_AND_ONE_RUNNING])
def test_every_field_is_what_the_events_say(
    datalab_server: RunningServer, sdk_runs: dict[str, list[Event]], name: str
) -> None:
    events = sdk_runs[name]
    root = str(root_execution(events))
    spans = expected_spans(events)
    root_span = next(span for span in spans if span.span_id == root)
    number = number_of(datalab_server, root)
    response = datalab_get(datalab_server, number)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["execution_id"] == number
    assert isinstance(body["workflow_id"], int)
    assert 0 < body["workflow_id"] < 2**53
    assert body["status"] == STATUS_OF[root_span.status]
    assert body["created"] == naive_utc(root_span.start)
    assert body["updated"] == naive_utc(max(datetime.fromisoformat(e["timestamp"]) for e in events))
    nodes = [span for span in spans if span.kind == "node"]
    assert len(body["steps"]) == len(nodes)
    names: dict[str, int] = {}
    for span, (key, step) in zip(nodes, body["steps"].items(), strict=True):
        names[span.name] = names.get(span.name, 0) + 1
        count = names[span.name]
        assert key == (span.name if count == 1 else f"{span.name}[{count}]")
        assert step["status"] == STATUS_OF[span.status]
        assert step["started_at"] == naive_utc(span.start)
        assert step.get("completed_at") == naive_utc(span.end)
        if span.status == "RUNNING":
            assert "output_url" not in step
            continue
        linked = httpx.get(step["output_url"])  # the link is its own credential
        assert linked.status_code == 200, linked.text
        assert linked.json() == (span.outputs if span.status == "FULFILLED" else span.error)


def test_the_same_workflow_gets_the_same_workflow_id(
    datalab_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    again = SDK_WORKFLOWS["linear"]()
    post_events(datalab_server, again)
    first = datalab_get(
        datalab_server, number_of(datalab_server, str(root_execution(sdk_runs["linear"])))
    )
    second = datalab_get(datalab_server, number_of(datalab_server, str(root_execution(again))))
    other = datalab_get(
        datalab_server, number_of(datalab_server, str(root_execution(sdk_runs["map"])))
    )
    assert (
        first.json()["workflow_id"] == second.json()["workflow_id"] != other.json()["workflow_id"]
    )
    assert first.json()["execution_id"] != second.json()["execution_id"]


def _a_link(server: RunningServer, runs: dict[str, list[Event]]) -> str:
    body = datalab_get(server, number_of(server, str(root_execution(runs["linear"])))).json()
    link: str = next(iter(body["steps"].values()))["output_url"]
    return link


def test_a_link_expires(datalab_server: RunningServer, sdk_runs: dict[str, list[Event]]) -> None:
    link = _a_link(datalab_server, sdk_runs)
    fresh = httpx.get(link)
    assert fresh.status_code == 200
    # Cached no longer than the link has left.
    assert fresh.headers["cache-control"] in ("private, max-age=3", "private, max-age=2")
    time.sleep(4.1)
    expired = httpx.get(link)
    assert expired.status_code == 403
    assert "expired" in expired.json()["detail"]


def test_an_altered_or_forged_link_is_refused_and_reveals_nothing(
    datalab_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    link = _a_link(datalab_server, sdk_runs)
    base, token = link.rsplit("/", 1)
    flipped = [
        token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        for i in (0, 20, 60, len(token) - 1)
    ]
    for forged in [*flipped, token[:-2], token + "AA", "x", "-" * len(token)]:
        response = httpx.get(f"{base}/{forged}")
        assert response.status_code == 403, forged
        assert response.json() == {"detail": "the payload link is not valid, or has expired"}


def test_another_workspaces_key_is_refused_and_its_own_accepted(
    datalab_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    link = _a_link(datalab_server, sdk_runs)
    other = create_key(datalab_server.env, workspace="datalab-other")
    assert httpx.get(link, headers={"X-API-KEY": other}).status_code == 403
    assert httpx.get(link, headers={"X-API-KEY": datalab_server.api_key}).status_code == 200


def test_another_workspaces_number_is_not_found(
    datalab_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    number = number_of(datalab_server, str(root_execution(sdk_runs["linear"])))
    other = create_key(datalab_server.env, workspace="datalab-other")
    response = datalab_get(datalab_server, number, key=other)
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("number", [0, -3, 2**64, 10**30, 987654321])
def test_a_number_no_execution_has_is_not_found(datalab_server: RunningServer, number: int) -> None:
    assert datalab_get(datalab_server, number).status_code == 404


@pytest.mark.parametrize("raw", ["abc", "1.5", str(uuid.uuid4()), "1e3"])
def test_an_id_that_is_not_an_integer_is_a_422_in_datalabs_shape(
    datalab_server: RunningServer, raw: str
) -> None:
    response = datalab_get(datalab_server, raw)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["path", "execution_id"]
    assert error["type"] == "int_parsing"
    assert isinstance(error["msg"], str)


def test_a_missing_key_is_a_401(datalab_server: RunningServer) -> None:
    response = httpx.get(f"{datalab_server.base_url}{URL}1")
    assert response.status_code == 401
    assert "X-API-Key" in response.json()["detail"]


def test_a_number_is_never_another_executions(
    datalab_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    listed: dict[str, Any] = httpx.get(
        f"{datalab_server.base_url}/v1/workflow-executions",
        params={"limit": 1000},
        headers=datalab_server.headers(),
    ).json()
    numbers = [item["number"] for item in listed["results"]]
    assert len(numbers) == len(set(numbers))
    assert all(re.fullmatch(r"[1-9][0-9]*", str(n)) for n in numbers)
