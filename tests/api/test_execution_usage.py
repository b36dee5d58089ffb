"""Usage and cost in spans: each node span's `usage_result` and the execution's summed totals.

A `node.execution.fulfilled`/`rejected` body may carry `usage_result` in Vellum's
`WorkflowExecutionUsageCalculationFulfilledBody` shape; the detail endpoint hands it back on the
span and sums all of an execution's spans into one `WorkflowExecutionUsageResult`.
"""

from __future__ import annotations

import copy
import random
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from vellum import Vellum
from vellum.client.types import NodeExecutionSpan, WorkflowExecutionDetail

from projections.clickhouse import connect
from projections.detail import usage_total
from tests.sdk_workflows import SDK_WORKFLOWS, Event, root_execution, to_models
from tests.servers import RunningServer, post_events, server_in_thread, vellum_client


@pytest.fixture(scope="module")
def server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    """One server per log backend for the module (each start costs seconds): its tests read
    only the executions they post."""
    with server_in_thread(module_log_env) as running:
        yield running


ADMIN_TOKEN = "test-admin-token"

# Strip calls one model; Upper calls two; Exclaim calls none.
USAGE_BY_NODE: dict[str, dict[str, Any]] = {
    "Strip": {
        "usage": [
            {
                "ml_model_name": "gpt-4o",
                "ml_model_usage": {"input_token_count": 10, "output_token_count": 5},
            }
        ],
        "cost": [{"value": 0.0012, "unit": "USD"}],
    },
    "Upper": {
        "usage": [
            {
                "ml_model_name": "gpt-4o",
                "ml_model_usage": {
                    "input_token_count": 20,
                    "output_token_count": 8,
                    "cache_read_input_tokens": 4,
                },
            },
            {
                "ml_model_name": "claude-sonnet-4",
                "ml_model_usage": {"input_token_count": 7, "output_token_count": 3},
            },
        ],
        "cost": [{"value": 0.003, "unit": "USD"}],
    },
}

# (model, input tokens, output tokens, cache-read tokens); the other counts are None.
EXPECTED_USAGE = [("claude-sonnet-4", 7, 3, None), ("gpt-4o", 30, 13, 4)]
EXPECTED_COST = 0.0042


def _wait(position: str) -> Any:
    return {"additional_query_parameters": {"min_log_position": position}}


def _run_with_usage() -> list[Event]:
    """A real SDK run whose Strip and Upper nodes report usage on their `fulfilled` events."""
    events = SDK_WORKFLOWS["linear"]()
    for event in events:
        node = event["body"].get("node_definition", {}).get("name")
        if event["name"] == "node.execution.fulfilled" and node in USAGE_BY_NODE:
            event["body"]["usage_result"] = copy.deepcopy(USAGE_BY_NODE[node])
    return events


def _labels(detail: WorkflowExecutionDetail) -> dict[str, Any]:
    return {span.attributes.label: span for span in detail.spans}


def _totals(detail: WorkflowExecutionDetail) -> tuple[list[tuple[Any, ...]], list[Any]]:
    """The execution's usage totals as (model, input, output, cache read), and its costs."""
    assert detail.usage_results is not None
    assert len(detail.usage_results) == 1
    total = detail.usage_results[0]
    assert total.usage is not None
    assert total.cost is not None
    usage = [
        (
            wrapper.ml_model_name,
            wrapper.ml_model_usage.input_token_count,
            wrapper.ml_model_usage.output_token_count,
            wrapper.ml_model_usage.cache_read_input_tokens,
        )
        for wrapper in total.usage
    ]
    for wrapper in total.usage:
        assert wrapper.ml_model_usage.input_char_count is None
        assert wrapper.ml_model_usage.compute_nanos is None
    return usage, [(price.unit, price.value) for price in total.cost]


def _assert_expected_totals(detail: WorkflowExecutionDetail) -> None:
    usage, cost = _totals(detail)
    assert usage == EXPECTED_USAGE
    assert cost == [("USD", pytest.approx(EXPECTED_COST))]


def _post(client: Vellum, events: list[Event]) -> str:
    """Post through the official client; the position token to wait for."""
    response = client.events.create(request=to_models(events))
    return str((response.model_extra or {})["log_position"])


def _detail(client: Vellum, execution_id: str, position: str) -> WorkflowExecutionDetail:
    return client.workflow_executions.retrieve_workflow_execution_detail(
        execution_id, request_options=_wait(position)
    )


def test_each_span_carries_its_usage_and_the_execution_sums_it_per_model_and_unit(
    server: RunningServer,
) -> None:
    events = _run_with_usage()
    root = str(root_execution(events))
    with vellum_client(server) as client:
        position = _post(client, events)
        detail = _detail(client, root, position)
        spans = _labels(detail)
        for label in ("Strip", "Upper"):
            span = spans[label]
            assert isinstance(span, NodeExecutionSpan)
            assert span.usage_result is not None
            want = USAGE_BY_NODE[label]
            assert [
                (u.ml_model_name, u.ml_model_usage.model_dump(exclude_none=True))
                for u in span.usage_result.usage
            ] == [(u["ml_model_name"], u["ml_model_usage"]) for u in want["usage"]]
            assert [(c.value, c.unit) for c in span.usage_result.cost] == [
                (c["value"], c["unit"]) for c in want["cost"]
            ]
        assert spans["Exclaim"].usage_result is None
        assert spans["LinearWorkflow"].usage_result is None
        _assert_expected_totals(detail)

        # The totals are the execution's, on every page, not the sum of one page's spans.
        cursor: str | None = None
        while True:
            page = client.workflow_executions.retrieve_workflow_execution_detail(
                root, prev_span_id=cursor, span_limit=1
            )
            _assert_expected_totals(page)
            if not (page.model_extra or {})["has_more"]:
                break
            cursor = page.spans[-1].span_id


def test_an_execution_without_usage_has_no_usage_results(sqlite_server: RunningServer) -> None:
    events = SDK_WORKFLOWS["linear"]()
    with vellum_client(sqlite_server) as client:
        position = _post(client, events)
        detail = _detail(client, str(root_execution(events)), position)
    assert detail.usage_results is None
    assert all(span.usage_result is None for span in detail.spans)


def _later_copy(event: Event, usage_result: dict[str, Any]) -> Event:
    """The same terminal event sent again under a new id, later, reporting other usage."""
    again = copy.deepcopy(event)
    again["id"] = str(uuid.uuid4())
    timestamp = datetime.fromisoformat(again["timestamp"]) + timedelta(seconds=5)
    again["timestamp"] = timestamp.isoformat().replace("+00:00", "Z")
    again["body"]["usage_result"] = usage_result
    return again


def test_redelivered_shuffled_or_repeated_reports_do_not_double_the_totals(
    sqlite_server: RunningServer,
) -> None:
    events = _run_with_usage()
    root = str(root_execution(events))
    strip_fulfilled = next(e for e in events if e["body"].get("usage_result") is not None)
    # A runner that re-sent a terminal event under a new id: the span's earliest report counts.
    events.append(_later_copy(strip_fulfilled, USAGE_BY_NODE["Upper"]))
    shuffled = events[:]
    random.Random(5).shuffle(shuffled)
    for start in range(0, len(shuffled), 4):
        post_events(sqlite_server, shuffled[start : start + 4])
    position = post_events(sqlite_server, events)  # the whole run redelivered
    with vellum_client(sqlite_server) as client:
        detail = _detail(client, root, position)
    _assert_expected_totals(detail)
    strip = _labels(detail)["Strip"].usage_result
    assert strip is not None
    assert [u.ml_model_name for u in strip.usage] == ["gpt-4o"]


@pytest.fixture
def admin_server(sqlite_env: dict[str, str]) -> Iterator[RunningServer]:
    """The embedded default with a known admin token, for /admin/replay and /admin/verify."""
    with server_in_thread({**sqlite_env, "RUNLEDGER_ADMIN_TOKEN": ADMIN_TOKEN}) as running:
        yield running


def _replay(server: RunningServer) -> str:
    """Replay through the server and wait until its reads switched; the new database."""
    headers = {"X-Admin-Token": ADMIN_TOKEN}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as http:
        assert http.post("/admin/replay").status_code == 202
        deadline = time.monotonic() + 120
        while (state := http.get("/admin/replay").json())["state"] == "running":
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
    assert state["state"] == "done", state
    database: str = state["database"]
    return database


def _verify(server: RunningServer) -> list[str]:
    response = httpx.post(
        f"{server.base_url}/admin/verify", headers={"X-Admin-Token": ADMIN_TOKEN}, timeout=120
    )
    assert response.status_code == 200, response.text
    differences: list[str] = response.json()["differences"]
    return differences


def test_a_replay_rebuilds_the_same_usage_and_verify_checks_it(
    admin_server: RunningServer, clickhouse_url: str
) -> None:
    events = _run_with_usage()
    root = str(root_execution(events))
    with vellum_client(admin_server) as client:
        position = _post(client, events)
        before = _detail(client, root, position)
        _assert_expected_totals(before)
        database = _replay(admin_server)
        after = _detail(client, root, position)
    assert after.usage_results == before.usage_results
    assert {s.span_id: s.usage_result for s in after.spans} == {
        s.span_id: s.usage_result for s in before.spans
    }
    assert _verify(admin_server) == []

    # Verify compares each span's usage with the log: losing it is a difference.
    damaged = connect(clickhouse_url, database)
    try:
        damaged.command("TRUNCATE TABLE span_usage")
    finally:
        damaged.close()
    differences = _verify(admin_server)
    assert len(differences) == 1
    assert f"execution {root}" in differences[0]
    assert "usage of 2 spans differs" in differences[0]


def test_a_total_past_64_bits_is_unknown_not_an_error() -> None:
    # Logged before ingest capped each count at 2**53 - 1: the sum would not fit the JSON
    # writer, so the total is null while the other counts still add up.
    def result(tokens: int) -> str:
        usage = {"input_token_count": tokens, "output_token_count": 1}
        return orjson.dumps(
            {"usage": [{"ml_model_name": "m", "ml_model_usage": usage}], "cost": []}
        ).decode()

    total = usage_total([result(2**63), result(2**63)])
    assert total is not None
    assert total["usage"][0]["ml_model_usage"]["input_token_count"] is None
    assert total["usage"][0]["ml_model_usage"]["output_token_count"] == 2
    assert orjson.loads(orjson.dumps(total)) == total
