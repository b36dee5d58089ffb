"""`GET /v1/workflow-executions[/count]` over HTTP, on both logs.

What the list answers is compared with a Python fold of the events the test sent
(tests/executions.py `listed_row`) filtered by the Python evaluator of the same expression
(projections/filter_eval.py), never with the projections themselves.
"""

from __future__ import annotations

import base64
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.filter_eval import matches
from projections.filter_grammar import parse_filter
from tests.executions import Deployed, Event, ingested, listed_row
from tests.filter_expressions import expressions, seen_values
from tests.servers import RunningServer, create_key, post_events, server_in_thread

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WORKFLOWS = ("summarise", "classify", "translate")
OUTCOMES = ("FULFILLED", "REJECTED", None)


def history(count: int, start: datetime = START) -> list[list[Event]]:
    """`count` executions of three workflows and outcomes, with deployments, metadata and
    usage varying."""
    executions = []
    for n in range(count):
        deployed = Deployed("summariser", ("prod", "beta")[n % 2]) if n % 3 else None
        usage = [("gpt-4o", 10 * n, n, 0.125 * n)] if n % 2 else [("claude", 5, 5, 0.5)]
        _, events = ingested(
            start + timedelta(minutes=n),
            WORKFLOWS[n % 3],
            OUTCOMES[n % 4 % 3],
            deployment=deployed,
            metadata={"customer": ("acme", "globex")[n % 2], "tier": n % 4},
            usage=usage if n % 5 else None,
            duration=timedelta(milliseconds=500 * (n % 7 + 1)),
        )
        executions.append(events)
    return executions


def get(server: RunningServer, path: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}{path}", params=params, headers=server.headers(), timeout=60
    )


def walk(server: RunningServer, **params: Any) -> list[dict[str, Any]]:
    """Every item of every page, following `next_cursor`."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        response = get(
            server, "/v1/workflow-executions", **params, **({"cursor": cursor} if cursor else {})
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["results"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages never ended")


@pytest.fixture(scope="module")
def listed(module_log_env: dict[str, str]) -> Any:
    """A server with 40 executions ingested, and the rows a Python fold expects of them (one
    server per log backend, shared by the module's tests: they only read)."""
    with server_in_thread(module_log_env) as server:
        executions = history(40)
        token = ""
        for events in executions:
            token = post_events(server, events)
        assert get(server, "/v1/workflow-executions", min_log_position=token).status_code == 200
        yield server, [listed_row(events) for events in executions]


EXPRESSIONS = [
    "",
    'status = "REJECTED"',
    "workflow = 'summarise' AND started_at >= '2026-12-01T09:10:00Z'",
    "started_at BETWEEN '2026-12-01T09:05:00Z' AND '2026-12-01T09:20:00+00:00'",
    'metadata.customer = "acme" AND metadata.tier >= 2',
    "deployment = 'summariser' AND release_tag IN ('beta')",
    "error.message CONTAINS 'failed' OR duration_ms > 3000",
    "model = 'gpt-4o' AND tokens > 100 AND cost <= 2.5",
    "NOT (status IN ('FULFILLED', 'INITIATED')) AND ended_at < '2026-12-01T09:30:00Z'",
    "has_actuals = false AND external_id != 'nope'",
]


@pytest.mark.parametrize("expression", EXPRESSIONS, ids=lambda e: e or "everything")
def test_a_filter_lists_what_a_fold_of_the_events_keeps(listed: Any, expression: str) -> None:
    server, rows = listed
    expected = {row["execution_id"] for row in rows if matches(parse_filter(expression), row)}
    items = walk(server, q=expression, limit=7)
    assert [UUID(item["id"]) for item in items if UUID(item["id"]) in expected] == [
        UUID(item["id"]) for item in items
    ]
    assert sorted(UUID(item["id"]) for item in items) == sorted(expected)
    starts = [item["started_at"] for item in items]
    assert starts == sorted(starts, reverse=True)
    count = get(server, "/v1/workflow-executions/count", q=expression).json()
    assert count == {"count": len(expected)}


def test_an_item_says_what_its_events_say(listed: Any) -> None:
    server, rows = listed
    row = rows[7]  # a FULFILLED classify of the beta tag, with gpt-4o's usage
    (item,) = [i for i in walk(server, limit=1000) if UUID(i["id"]) == row["execution_id"]]
    assert item["status"] == row["status"]
    assert item["workflow"] == row["workflow"]
    assert item["metadata"] == row["metadata"]
    assert item["usage"]["tokens"] == row["tokens"]
    assert item["usage"]["cost"] == {"value": row["cost"], "unit": "USD"}
    assert item["usage"]["models"] == row["models"]
    assert item["duration_ms"] == row["duration_ms"]
    assert item["span_count"] == 1 + (1 if row["models"] else 0)
    assert item["detail_url"].endswith(f"/v1/workflow-executions/{item['id']}/detail")
    detail = httpx.get(item["detail_url"], headers=server.headers(), timeout=60)
    assert detail.status_code == 200


@pytest.mark.parametrize("ordering", ["started_at", "-ended_at", "duration_ms", "-cost"])
def test_every_order_pages_through_every_execution_once(listed: Any, ordering: str) -> None:
    server, rows = listed
    items = walk(server, ordering=ordering, limit=6)
    assert sorted(UUID(i["id"]) for i in items) == sorted(r["execution_id"] for r in rows)
    field = ordering.removeprefix("-")
    values = [i[field] if field != "cost" else i["usage"]["cost"]["value"] for i in items]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=ordering.startswith("-"))


def test_counts_per_group(listed: Any) -> None:
    server, rows = listed
    body = get(server, "/v1/workflow-executions/count", group_by="status").json()
    expected: dict[str, int] = {}
    for row in rows:
        expected[row["status"]] = expected.get(row["status"], 0) + 1
    assert body["count"] == len(rows)
    assert {g["value"]: g["count"] for g in body["groups"]} == expected
    models = get(server, "/v1/workflow-executions/count", group_by="model", q="status = 'REJECTED'")
    rejected = [r for r in rows if r["status"] == "REJECTED"]
    assert models.json()["count"] == len(rejected)
    per_model = {g["value"]: g["count"] for g in models.json()["groups"]}
    assert per_model.get("gpt-4o", 0) == sum("gpt-4o" in r["models"] for r in rejected)


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"q": "stauts = 'X'"}, "q", "at position 0 ('stauts')"),
        ({"q": "status = 'REJECTED' AND"}, "q", "end of expression"),
        ({"q": "tokens < 'many'"}, "q", "position 9"),
        ({"ordering": "name"}, "ordering", "must be one of"),
        ({"limit": "0"}, "limit", "from 1 to 1000"),
        ({"limit": "1001"}, "limit", "from 1 to 1000"),
        ({"cursor": "not-a-cursor"}, "cursor", "not a cursor"),
    ],
    ids=["unknown-field", "dangling-and", "wrong-type", "order", "limit-0", "limit-big", "cursor"],
)
def test_a_bad_parameter_is_a_400_naming_it(
    listed: Any, params: dict[str, str], field: str, words: str
) -> None:
    server, _ = listed
    response = get(server, "/v1/workflow-executions", **params)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == field
    assert words in response.json()["detail"]


def test_a_cursor_of_another_order_is_refused(listed: Any) -> None:
    server, _ = listed
    first = get(server, "/v1/workflow-executions", limit=2).json()
    response = get(server, "/v1/workflow-executions", ordering="cost", cursor=first["next_cursor"])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"


def test_count_by_an_unknown_group_is_a_400(listed: Any) -> None:
    server, _ = listed
    response = get(server, "/v1/workflow-executions/count", group_by="colour")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "group_by"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_generated_expression_answers_the_folds_rows_or_a_400(listed: Any, data: Any) -> None:
    server, rows = listed
    expr, text = data.draw(expressions(seen_values(rows)))
    response = get(server, "/v1/workflow-executions", q=text, limit=1000)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        expected = {row["execution_id"] for row in rows if matches(expr, row)}
        assert {UUID(i["id"]) for i in response.json()["results"]} == expected
        assert response.json()["next_cursor"] is None


@given(text=st.text(max_size=60))
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_text_is_a_200_or_a_400(listed: Any, text: str) -> None:
    server, _ = listed
    response = get(server, "/v1/workflow-executions/count", q=text)
    assert response.status_code in (200, 400), response.text


def test_another_workspace_lists_only_its_own(log_env: dict[str, str]) -> None:
    with server_in_thread(log_env) as server:
        ours = history(6)
        for events in ours:
            post_events(server, events)
        other_key = create_key(server.env, "other")
        theirs = history(4, START + timedelta(seconds=30))
        token = ""
        for events in theirs:
            token = post_events(server, events, key=other_key)
        other = RunningServer(server.base_url, other_key, server.env)
        listed_theirs = walk(other, min_log_position=token, limit=3)
        assert {UUID(i["id"]) for i in listed_theirs} == {
            listed_row(events)["execution_id"] for events in theirs
        }
        listed_ours = walk(server, limit=3)
        assert {UUID(i["id"]) for i in listed_ours} == {
            listed_row(events)["execution_id"] for events in ours
        }
        count = get(other, "/v1/workflow-executions/count").json()
        assert count == {"count": 4}


def test_walking_the_pages_while_events_arrive_meets_each_execution_once(
    log_env: dict[str, str],
) -> None:
    with server_in_thread(log_env) as server:
        before = history(30)
        token = ""
        for events in before:
            token = post_events(server, events)
        get(server, "/v1/workflow-executions", min_log_position=token)
        stop = threading.Event()
        arrived: list[UUID] = []

        def keep_ingesting() -> None:
            n = 0
            while not stop.is_set():
                # Some start before the walk's start, some after, some in its middle.
                moment = START + timedelta(minutes=(n * 7) % 45, seconds=n % 60, milliseconds=n)
                execution_id, events = ingested(moment, "late", "FULFILLED")
                post_events(server, events)
                arrived.append(execution_id)
                n += 1

        writer = threading.Thread(target=keep_ingesting)
        writer.start()
        try:
            seen = [UUID(i["id"]) for i in walk(server, limit=2)]
        finally:
            stop.set()
            writer.join()
        assert len(seen) == len(set(seen))
        assert {listed_row(events)["execution_id"] for events in before} <= set(seen)
        assert set(seen) <= {listed_row(e)["execution_id"] for e in before} | set(arrived)
        assert arrived  # the walk did meet new events


def test_a_filter_that_matches_nothing_is_one_empty_page(listed: Any) -> None:
    server, _ = listed
    response = get(server, "/v1/workflow-executions", q=f"trace_id = '{uuid.uuid4()}'")
    assert response.status_code == 200
    assert response.json() == {"results": [], "next_cursor": None, "next": None}


def test_metrics_per_bucket_and_group_agree_with_the_fold(listed: Any) -> None:
    server, rows = listed
    response = get(
        server,
        "/v1/workflow-executions/metrics",
        q="workflow != 'classify'",
        group_by="status",
        interval="hour",
        **{"from": "2026-12-01T09:00:00Z", "to": "2026-12-01T10:00:00Z"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    kept = [
        r
        for r in rows
        if r["workflow"] != "classify" and r["started_at"] < START + timedelta(hours=1)
    ]
    groups = {b["group"]: b for b in body["buckets"]}
    assert {b["start"] for b in body["buckets"]} == {"2026-12-01T09:00:00Z"}
    for status in {r["status"] for r in kept}:
        mine = [r for r in kept if r["status"] == status]
        bucket = groups[status]
        assert bucket["count"] == len(mine)
        assert bucket["input_tokens"] + bucket["output_tokens"] == sum(r["tokens"] for r in mine)
        assert bucket["cost"]["value"] == pytest.approx(sum(r["cost"] for r in mine))
        durations = sorted(r["duration_ms"] for r in mine if r["duration_ms"] is not None)
        if durations:
            # ClickHouse's exact quantile: the value at the level's share of the sorted list.
            assert bucket["duration_ms"]["p50"] == durations[int(0.5 * len(durations))]
            assert bucket["error_rate"] == (1.0 if status == "REJECTED" else 0.0)
        else:
            assert bucket["duration_ms"] == {"p50": None, "p90": None, "p99": None}
            assert bucket["error_rate"] is None


def test_metrics_by_the_minute_count_each_start(listed: Any) -> None:
    server, _ = listed
    body = get(
        server,
        "/v1/workflow-executions/metrics",
        interval="minute",
        **{"from": "2026-12-01T09:00:00Z", "to": "2026-12-01T09:10:00Z"},
    ).json()
    assert [b["count"] for b in body["buckets"]] == [1] * 10
    assert body["group_by"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"interval": "fortnight"}, "interval"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"interval": "minute", "from": "2000-01-01", "to": "2026-01-01"}, "interval"),
        ({"group_by": "colour"}, "group_by"),
    ],
    ids=["interval", "time", "backwards", "too-many-buckets", "group"],
)
def test_a_bad_metrics_parameter_is_a_400_naming_it(
    listed: Any, params: dict[str, str], field: str
) -> None:
    server, _ = listed
    response = get(server, "/v1/workflow-executions/metrics", **params)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == field


def test_pages_go_on_past_an_execution_started_outside_datetime64s_calendar(
    sqlite_server: RunningServer,
) -> None:
    # Ingest stores the ticks of any ISO-8601 time; a page's keyset must pass them back to
    # ClickHouse exactly (the contract test found a next page after year 140 answered 500).
    far = [
        ingested(datetime(140, 3, 19, 18, 20, tzinfo=UTC), "old", "FULFILLED")[1],
        ingested(datetime(2999, 1, 1, tzinfo=UTC), "new", "FULFILLED")[1],
        *history(2),
    ]
    token = ""
    for events in far:
        token = post_events(sqlite_server, events)
    items = walk(sqlite_server, min_log_position=token, limit=1)
    assert {UUID(i["id"]) for i in items} == {listed_row(e)["execution_id"] for e in far}


def test_a_cursor_past_any_calendar_is_a_400(listed: Any) -> None:
    server, _ = listed
    # A start no platform's gmtime takes (a year beyond 2**31).
    forged = base64.urlsafe_b64encode(
        orjson.dumps([1, "started_at", True, False, 0, 1e23, uuid.uuid4().hex])
    ).decode()
    response = get(server, "/v1/workflow-executions", cursor=forged.rstrip("="))
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "cursor"
