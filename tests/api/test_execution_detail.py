"""`GET /v1/workflow-executions/{id}/detail`: keyset span paging through vellum-ai's client."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from vellum import Vellum
from vellum.client.core.api_error import ApiError
from vellum.client.types import WorkflowExecutionDetail

from api.app import open_ledger
from api.settings import Settings
from domain.envelope import stored_envelope
from domain.keys import workspace_id_for
from tests.events import Event, node_event, workflow_event
from tests.sdk_workflows import SDK_WORKFLOWS, root_execution, to_models
from tests.servers import (
    RunningServer,
    create_key,
    position_token,
    post_events,
    server_in_thread,
    vellum_client,
)
from tests.steps import SPAN_PARENTS


@pytest.fixture(scope="module")
def server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    """One server per log backend for the module (each start costs seconds): its tests read
    only the executions they post."""
    with server_in_thread(module_log_env) as running:
        yield running


def _wait(position: str) -> Any:
    return {"additional_query_parameters": {"min_log_position": position}}


def _walk(
    client: Vellum, execution_id: str, limit: int, position: str
) -> list[WorkflowExecutionDetail]:
    """Every page, following the last span of each as the next cursor."""
    pages: list[WorkflowExecutionDetail] = []
    cursor: str | None = None
    while True:
        page = client.workflow_executions.retrieve_workflow_execution_detail(
            execution_id, prev_span_id=cursor, span_limit=limit, request_options=_wait(position)
        )
        pages.append(page)
        assert len(page.spans) <= limit
        if not (page.model_extra or {})["has_more"]:
            return pages
        cursor = page.spans[-1].span_id


def _expected_spans(events: list[Event]) -> dict[str, dict[str, Any]]:
    """Per span: its parent span and the times of its first initiated and terminal events."""
    spans: dict[str, dict[str, Any]] = {}
    for event in events:
        span = spans.setdefault(event["span_id"], {"parent": None, "start": None, "end": None})
        parent = event["parent"]
        if parent and parent["type"] in SPAN_PARENTS:
            span["parent"] = parent["span_id"]
        timestamp = datetime.fromisoformat(event["timestamp"])
        if event["name"].endswith(".initiated"):
            span["start"] = timestamp
        if event["name"].endswith((".fulfilled", ".rejected")):
            span["end"] = timestamp
    return spans


@pytest.mark.parametrize("name", [pytest.param(n, id=n) for n in SDK_WORKFLOWS])
def test_walking_all_pages_returns_each_span_once_with_its_parent_and_times(
    server: RunningServer, name: str
) -> None:
    events = SDK_WORKFLOWS[name]()
    root = str(root_execution(events))
    expected = _expected_spans(events)
    with vellum_client(server) as client:
        position = str(
            (client.events.create(request=to_models(events)).model_extra or {})["log_position"]
        )
        walks = {limit: _walk(client, root, limit, position) for limit in (1, 7, 100)}
    for limit, pages in walks.items():
        spans = [span for page in pages for span in page.spans]
        assert Counter(s.span_id for s in spans) == Counter(expected.keys()), f"span_limit={limit}"
        for span in spans:
            want = expected[span.span_id]
            assert span.parent_span_id == want["parent"]
            assert span.start_ts == want["start"]
            assert span.end_ts == want["end"]
            assert {e.span_id for e in span.events} == {span.span_id}
        header = pages[0]
        assert header.span_id == root
        assert header.start == expected[root]["start"]
        assert header.end == expected[root]["end"]
    # The order is stable: every walk sees the same sequence.
    orders = [[s.span_id for page in pages for s in page.spans] for pages in walks.values()]
    assert orders[0] == orders[1] == orders[2]
    assert orders[0][0] == root  # the root's initiated is the first event the SDK emits


def test_the_detail_header_carries_inputs_outputs_and_error_as_vellum_values(
    server: RunningServer,
) -> None:
    with vellum_client(server) as client:
        for name, status in (("linear", "FULFILLED"), ("failing", "REJECTED")):
            events = SDK_WORKFLOWS[name]()
            root = str(root_execution(events))
            position = str(
                (client.events.create(request=to_models(events)).model_extra or {})["log_position"]
            )
            detail = client.workflow_executions.retrieve_workflow_execution_detail(
                root, request_options=_wait(position)
            )
            initiated = next(
                e for e in events if e["span_id"] == root and e["name"].endswith("initiated")
            )
            assert {(v.name, v.value) for v in detail.inputs} == set(
                initiated["body"]["inputs"].items()
            )
            assert (detail.model_extra or {})["status"] == status
            if status == "FULFILLED":
                assert [(v.name, v.type, v.value) for v in detail.outputs] == [
                    ("result", "STRING", "HELLO!")
                ]
                assert detail.error is None
            else:
                assert detail.outputs == []
                assert detail.error is not None
            assert detail.parent_context is not None
            assert detail.state is not None


def test_paging_while_spans_keep_arriving_out_of_order_loses_and_repeats_nothing(
    server: RunningServer,
) -> None:
    execution_id = str(uuid.uuid4())
    events: list[Event] = [workflow_event("initiated", execution_id, 0)]
    for n in range(120):
        span = str(uuid.uuid4())
        events += [
            node_event("initiated", execution_id, span, 2 * n + 1),
            node_event("fulfilled", execution_id, span, 2 * n + 2),
        ]
    events.append(workflow_event("fulfilled", execution_id, 999))
    random.Random(7).shuffle(events)  # nodes before their workflow, fulfilled before initiated
    # (hand-made bodies, thinner than Vellum's models: read over plain HTTP)
    seen: list[str] = []
    cursor: str | None = None
    sent = 0
    with httpx.Client(base_url=server.base_url, headers=server.headers(), timeout=30) as http:
        while True:
            if sent < len(events):  # more events arrive between every two pages
                position = post_events(server, events[sent : sent + 23])
                sent += 23
            params: dict[str, Any] = {"span_limit": 9, "min_log_position": position}
            if cursor:
                params["prev_span_id"] = cursor
            page = http.get(f"/v1/workflow-executions/{execution_id}/detail", params=params).json()
            seen += [span["span_id"] for span in page["spans"]]
            if page["spans"]:
                cursor = page["spans"][-1]["span_id"]
            if sent >= len(events) and not page["has_more"]:
                break
    assert Counter(seen) == Counter({e["span_id"] for e in events})


def test_span_ids_and_times_are_written_as_the_header_writes_them(server: RunningServer) -> None:
    execution_id, node = str(uuid.uuid4()), str(uuid.uuid4())
    node_started = node_event("initiated", execution_id, node, 5)
    node_started["timestamp"] = "2026-11-23T12:00:00.000007Z"  # microseconds are kept
    events = [
        workflow_event("initiated", execution_id, 0),
        node_started,
        node_event("fulfilled", execution_id, node, 1500),
        workflow_event("fulfilled", execution_id, 2000),
    ]
    position = post_events(server, events)
    response = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/detail",
        params={"min_log_position": position},
        headers=server.headers(),
    )
    body = response.json()
    spans = {span["span_id"]: span for span in body["spans"]}
    assert body["start"] == "2026-11-23T12:00:00Z"
    assert body["end"] == "2026-11-23T12:00:02Z"
    assert spans[execution_id]["start_ts"] == body["start"]
    assert spans[execution_id]["end_ts"] == body["end"]
    assert spans[execution_id]["parent_span_id"] is None
    assert spans[node]["parent_span_id"] == execution_id
    assert spans[node]["start_ts"] == "2026-11-23T12:00:00.000007Z"
    assert spans[node]["end_ts"] == "2026-11-23T12:00:01.500000Z"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param("span_limit=0", "span_limit", id="zero"),
        pytest.param("span_limit=-3", "span_limit", id="negative"),
        pytest.param("span_limit=1001", "span_limit", id="too-large"),
        pytest.param("span_limit=ten", "span_limit", id="not-a-number"),
        pytest.param("prev_span_id=abc", "prev_span_id", id="not-a-uuid"),
        pytest.param(f"prev_span_id={uuid.uuid4()}", "prev_span_id", id="unknown-span"),
    ],
)
def test_a_bad_paging_parameter_is_a_400_naming_it(
    server: RunningServer, query: str, field: str
) -> None:
    execution_id = str(uuid.uuid4())
    position = post_events(server, [workflow_event("initiated", execution_id)])
    response = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/detail?{query}&min_log_position={position}",
        headers=server.headers(),
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_a_span_of_another_execution_is_not_a_cursor(server: RunningServer) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    position = post_events(
        server, [workflow_event("initiated", first), workflow_event("initiated", second)]
    )
    with vellum_client(server) as client, pytest.raises(ApiError) as raised:
        client.workflow_executions.retrieve_workflow_execution_detail(
            first, prev_span_id=second, request_options=_wait(position)
        )
    assert raised.value.status_code == 400


def test_an_unknown_or_foreign_execution_is_a_404(server: RunningServer) -> None:
    foreign = str(uuid.uuid4())
    post_events(
        server, [workflow_event("initiated", foreign)], key=create_key(server.env, "others")
    )
    position = position_token(server.env)  # the log's head, as this workspace may wait for it
    with vellum_client(server) as client:
        for execution_id in (foreign, str(uuid.uuid4())):
            with pytest.raises(ApiError) as raised:
                client.workflow_executions.retrieve_workflow_execution_detail(
                    execution_id, request_options=_wait(position)
                )
            assert raised.value.status_code == 404


def test_a_span_known_only_by_its_snapshot_has_times_the_client_can_read(
    sqlite_server: RunningServer,
) -> None:
    # A snapshot that arrives before its span's initiated event: `events` leaves snapshots out,
    # and the span's start_ts and end_ts were null, which the official client refuses.
    execution_id = str(uuid.uuid4())
    snapshot = workflow_event("snapshotted", execution_id, offset_ms=20)
    snapshot["body"]["state"] = {"step": 1}
    position = post_events(sqlite_server, [snapshot])
    with vellum_client(sqlite_server) as client:
        detail = client.workflow_executions.retrieve_workflow_execution_detail(
            execution_id, request_options=_wait(position)
        )
    (span,) = detail.spans
    assert span.start_ts == span.end_ts == detail.start
    assert span.events == []


def test_a_snapshot_state_that_is_not_an_object_is_answered_wrapped_as_the_state_read_does(
    sqlite_server: RunningServer,
) -> None:
    # Ingest now refuses such a state; one logged before went out as "state": "just text",
    # which neither the document nor the official client's model (an object) allows.
    execution_id = str(uuid.uuid4())
    snapshot = workflow_event("snapshotted", execution_id, offset_ms=20)
    snapshot["body"]["state"] = "just text"
    initiated = workflow_event("initiated", execution_id)
    initiated["body"]["inputs"] = {}
    raws = [orjson.dumps(event) for event in (initiated, snapshot)]
    ledger = open_ledger(Settings.from_env(sqlite_server.env))
    try:
        envelopes = [stored_envelope(orjson.loads(raw), raw) for raw in raws]
        ledger.append(workspace_id_for("tests"), envelopes, datetime.now(UTC))
    finally:
        ledger.close()
    position = position_token(sqlite_server.env)
    with vellum_client(sqlite_server) as client:
        detail = client.workflow_executions.retrieve_workflow_execution_detail(
            execution_id, request_options=_wait(position)
        )
    state = httpx.get(
        f"{sqlite_server.base_url}/v1/workflows/{execution_id}/state",
        headers=sqlite_server.headers(),
    ).json()["state"]
    assert detail.state == state == {"value": "just text"}
