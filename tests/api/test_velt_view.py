"""Velt's `POST /v2/workflow/executions/get` over HTTP, for the SDK's event streams."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

from tests.events import Event
from tests.sdk_workflows import SDK_RUNS_AND_ONE_RUNNING, SDK_WORKFLOWS, root_execution
from tests.servers import RunningServer, create_key, post_events, post_visible, server_in_thread
from tests.steps import epoch_ms, expected_spans

URL = "/v2/workflow/executions/get"
STATUS_OF = {"FULFILLED": "completed", "REJECTED": "failed", "RUNNING": "running"}


@pytest.fixture(scope="module")
def velt_server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    with server_in_thread(module_log_env) as running:
        yield running


@pytest.fixture(scope="module")
def sdk_runs(velt_server: RunningServer) -> dict[str, list[Event]]:
    """Each SDK workflow's events, posted once and visible."""
    runs = {name: make() for name, make in SDK_RUNS_AND_ONE_RUNNING.items()}
    post_visible(velt_server, list(runs.values()))
    return runs


def velt_get(
    server: RunningServer, data: Any, key: str | None = None, **headers: str
) -> httpx.Response:
    return httpx.post(
        server.base_url + URL,
        content=orjson.dumps({"data": data}),
        headers={"x-velt-api-key": key or server.api_key, **headers},
    )


def walk(server: RunningServer, execution_id: str, limit: int) -> list[dict[str, Any]]:
    """Every page of the execution's steps, following `nextStepCursor`."""
    pages = []
    cursor = None
    while True:
        response = velt_get(
            server, {"executionId": execution_id, "stepCursor": cursor, "stepLimit": limit}
        )
        assert response.status_code == 200, response.text
        pages.append(response.json()["result"])
        cursor = pages[-1]["nextStepCursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in SDK_RUNS_AND_ONE_RUNNING])
def test_every_field_is_what_the_events_say(
    velt_server: RunningServer, sdk_runs: dict[str, list[Event]], name: str
) -> None:
    events = sdk_runs[name]
    root = str(root_execution(events))
    spans = expected_spans(events)
    root_span = next(span for span in spans if span.span_id == root)
    (result,) = walk(velt_server, root, 1000)
    assert result == {
        "executionId": root,
        "status": STATUS_OF[root_span.status],
        "startedAt": epoch_ms(root_span.start),
        "completedAt": epoch_ms(root_span.end),
        "cancelledAt": None,
        "definitionId": root_span.name,
        "definitionVersion": None,
        "correlationId": None,
        "idempotencyKey": None,
        "failureReason": root_span.error["message"] if root_span.error else None,
        "steps": result["steps"],
        "nextStepCursor": None,
    }
    expected_steps = [
        {
            "stepId": span.span_id,
            "nodeId": span.definition_id,
            "nodeType": span.name,
            "status": STATUS_OF[span.status],
            "groupId": span.parent if span.parent != root else None,
            "startedAt": epoch_ms(span.start),
            "completedAt": epoch_ms(span.end),
            "output": span.outputs if span.status == "FULFILLED" else None,
            "error": span.error if span.status == "REJECTED" else None,
        }
        for span in spans
        if span.kind == "node"
    ]
    assert result["steps"] == expected_steps


@pytest.mark.parametrize("limit", [1, 3])
def test_paging_by_step_cursor_returns_each_step_once_in_order(
    velt_server: RunningServer, sdk_runs: dict[str, list[Event]], limit: int
) -> None:
    events = sdk_runs["map"]
    root = str(root_execution(events))
    pages = walk(velt_server, root, limit)
    steps = [step["stepId"] for page in pages for step in page["steps"]]
    assert steps == [span.span_id for span in expected_spans(events) if span.kind == "node"]
    assert all(len(page["steps"]) <= limit for page in pages)
    assert len(pages) > 1


@pytest.mark.parametrize("name", ["map", "failing"])
def test_with_links_a_completed_steps_output_is_behind_its_link(
    velt_server: RunningServer, sdk_runs: dict[str, list[Event]], name: str
) -> None:
    root = str(root_execution(sdk_runs[name]))
    (inline,) = walk(velt_server, root, 1000)
    response = velt_get(velt_server, {"executionId": root, "outputs": "links"})
    assert response.status_code == 200, response.text
    linked = response.json()["result"]
    assert {k: v for k, v in linked.items() if k != "steps"} == {
        k: v for k, v in inline.items() if k != "steps"
    }
    for with_link, step in zip(linked["steps"], inline["steps"], strict=True):
        url = with_link.pop("outputUrl")
        assert with_link == {**step, "output": None}
        if step["status"] == "completed":
            assert httpx.get(url).json() == step["output"]
        else:
            assert url is None


def test_a_deployed_execution_names_its_deployment_and_the_callers_references(
    velt_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    events = [dict(event) for event in SDK_WORKFLOWS["linear"]()]
    root = str(root_execution(events))
    context = {
        "type": "WORKFLOW_RELEASE_TAG",
        "span_id": str(uuid.uuid4()),
        "deployment_id": str(uuid.uuid4()),
        "deployment_name": "marketing-copy-approval",
        "deployment_history_item_id": str(uuid.uuid4()),
        "release_tag_id": str(uuid.uuid4()),
        "release_tag_name": "LATEST",
        "external_id": "campaign-42-dispatch",
        "metadata": {"correlation_id": "corr_campaign_42"},
        "workflow_version_id": str(uuid.uuid4()),
    }
    for event in events:
        if event["span_id"] == root:
            event["parent"] = context
    post_events(velt_server, events)
    result = velt_get(velt_server, {"executionId": root}).json()["result"]
    assert result["definitionId"] == "marketing-copy-approval"
    assert result["idempotencyKey"] == "campaign-42-dispatch"
    assert result["correlationId"] == "corr_campaign_42"
    assert result["definitionVersion"] is None  # a Vellum deployment's release: no number here


def test_the_velt_auth_token_is_accepted_and_ignored(
    velt_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    root = str(root_execution(sdk_runs["linear"]))
    answer = velt_get(velt_server, {"executionId": root}, **{"x-velt-auth-token": "anything"})
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b"{}", "data"),
        (b'{"data": {}}', "data.executionId"),
        (b'{"data": {"executionId": 7}}', "data.executionId"),
        (b'{"data": {"executionId": "exec_1777374504255_xzy43k9q"}}', "data.executionId"),
        (
            b'{"data": {"executionId": "%s", "stepLimit": 0}}' % str(uuid.uuid4()).encode(),
            "data.stepLimit",
        ),
        (
            b'{"data": {"executionId": "%s", "stepLimit": true}}' % str(uuid.uuid4()).encode(),
            "data.stepLimit",
        ),
        (
            b'{"data": {"executionId": "%s", "stepCursor": "x"}}' % str(uuid.uuid4()).encode(),
            "data.stepCursor",
        ),
        (
            b'{"data": {"executionId": "%s", "outputs": "url"}}' % str(uuid.uuid4()).encode(),
            "data.outputs",
        ),
    ],
)
def test_a_bad_request_is_invalid_argument_naming_the_field(
    velt_server: RunningServer, body: bytes, field: str
) -> None:
    response = httpx.post(
        velt_server.base_url + URL, content=body, headers={"x-velt-api-key": velt_server.api_key}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"].startswith(field + " ")


def test_a_cursor_of_another_execution_is_invalid_argument(
    velt_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    root = str(root_execution(sdk_runs["linear"]))
    other = str(root_execution(sdk_runs["map"]))
    response = velt_get(velt_server, {"executionId": root, "stepCursor": other})
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "data.stepCursor" in response.json()["error"]["message"]


def test_an_unknown_or_foreign_execution_is_not_found(
    velt_server: RunningServer, sdk_runs: dict[str, list[Event]]
) -> None:
    root = str(root_execution(sdk_runs["linear"]))
    other_key = create_key(velt_server.env, workspace="velt-other")
    for key, execution_id in ((None, str(uuid.uuid4())), (other_key, root)):
        response = velt_get(velt_server, {"executionId": execution_id}, key=key)
        assert response.status_code == 404
        assert response.json()["error"]["status"] == "NOT_FOUND"


def test_a_missing_or_wrong_key_is_unauthenticated(velt_server: RunningServer) -> None:
    for headers in ({}, {"x-velt-api-key": "not-a-key"}):
        response = httpx.post(
            velt_server.base_url + URL,
            content=orjson.dumps({"data": {"executionId": str(uuid.uuid4())}}),
            headers=headers,
        )
        assert response.status_code == 401
        assert response.json()["error"]["status"] == "UNAUTHENTICATED"
        assert "x-velt-api-key" in response.json()["error"]["message"]
        assert response.headers["www-authenticate"] == "x-velt-api-key"


def test_a_step_seen_before_its_initiated_event_has_the_same_times_with_links(
    velt_server: RunningServer,
) -> None:
    events = SDK_WORKFLOWS["linear"]()
    late = next(e for e in events if e["name"] == "node.execution.initiated")
    post_visible(velt_server, [[e for e in events if e is not late]])
    root = str(root_execution(events))
    inline = velt_get(velt_server, {"executionId": root}).json()["result"]["steps"]
    linked = velt_get(velt_server, {"executionId": root, "outputs": "links"}).json()["result"]
    step = next(s for s in inline if s["stepId"] == late["span_id"])
    first = min(
        datetime.fromisoformat(e["timestamp"])
        for e in events
        if e["span_id"] == late["span_id"] and e is not late
    )
    assert step["startedAt"] == epoch_ms(first)
    for with_link, without in zip(linked["steps"], inline, strict=True):
        with_link.pop("outputUrl")
        assert with_link == {**without, "output": None}
