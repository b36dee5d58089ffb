"""`POST /monitoring/v1/events` over real HTTP: counts, bad input, limits and workspaces."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from api.app import open_ledger
from api.settings import Settings
from tests.events import execution, workflow_event
from tests.servers import RunningServer, create_key, server_in_thread

EVENTS = "/monitoring/v1/events"


def _post(
    server: RunningServer, body: Any, key: str | None = None, **headers: str
) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    sent = {**server.headers(), **headers}
    if key is not None:
        sent["X-API-KEY"] = key
    return httpx.post(server.base_url + EVENTS, content=content, headers=sent, timeout=30)


def _logged_raws(server: RunningServer) -> list[bytes]:
    ledger = open_ledger(Settings.from_env(server.env))
    try:
        return [e.raw for e in ledger.read(after=0, limit=100_000)]
    finally:
        ledger.close()


def test_a_batch_is_acknowledged_with_vellums_count_and_runledgers_additions(
    server: RunningServer,
) -> None:
    events = execution(node_count=2)
    response = _post(server, events)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    assert body["count"] == body["accepted_count"] == len(events)
    assert body["duplicate_count"] == 0
    assert isinstance(body["log_position"], str)
    assert [orjson.loads(raw)["id"] for raw in _logged_raws(server)] == [e["id"] for e in events]


def test_a_single_event_object_is_accepted(server: RunningServer) -> None:
    event = workflow_event("initiated", str(uuid.uuid4()))
    assert _post(server, event).json()["count"] == 1
    assert _logged_raws(server) == [orjson.dumps(event)]


def test_redelivered_events_are_counted_as_duplicates_and_stored_once(
    server: RunningServer,
) -> None:
    events = execution(node_count=2)
    first = _post(server, events).json()
    again = _post(server, [*events[:2], *events]).json()
    assert again["count"] == len(events) + 2
    assert again["accepted_count"] == 0
    assert again["duplicate_count"] == len(events) + 2
    # Both wait for the same position; as tokens they differ (nothing can be read off them).
    assert again["log_position"] != first["log_position"]
    assert len(_logged_raws(server)) == len(events)


def test_the_x_api_version_header_is_accepted(server: RunningServer) -> None:
    response = _post(server, execution(node_count=0), **{"X-API-Version": "2025-07-30"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        pytest.param(
            lambda e: e.update(name="workflow.execution.exploded"),
            "name",
            "not a known event name",
            id="unknown-name",
        ),
        pytest.param(lambda e: e.pop("id"), "id", "is required", id="missing-id"),
        pytest.param(
            lambda e: e.update(id="evt_123"), "id", "must be a UUID string", id="non-uuid-id"
        ),
        pytest.param(
            lambda e: e.update(timestamp="23/11/2026"), "timestamp", "ISO-8601", id="bad-timestamp"
        ),
        pytest.param(
            lambda e: e.update(body="text"),
            "body",
            "must be an object, got string",
            id="wrong-json-type",
        ),
        pytest.param(lambda e: e.update(span_id=7), "span_id", "UUID", id="numeric-span-id"),
    ],
)
def test_one_bad_event_rejects_the_whole_batch_naming_index_field_and_reason(
    server: RunningServer, mutate: Any, field: str, reason: str
) -> None:
    events = execution(node_count=2)
    mutate(events[3])
    response = _post(server, events)
    assert response.status_code == 400
    body = response.json()
    assert "no event of it was stored" in body["detail"]
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(3, field)]
    assert reason in body["errors"][0]["reason"]
    assert _logged_raws(server) == []


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[{", id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="text"),
        pytest.param(b'"just a string"', id="json-string"),
        pytest.param(b"42", id="json-number"),
    ],
)
def test_a_body_that_is_not_events_is_a_400_naming_the_body(
    server: RunningServer, body: bytes
) -> None:
    response = _post(server, body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["field"] in {"body", "event"}
    assert errors[0]["reason"]


def test_a_missing_or_unknown_key_is_a_401(server: RunningServer) -> None:
    events = execution(node_count=0)
    no_key = httpx.post(server.base_url + EVENTS, content=orjson.dumps(events), timeout=10)
    assert no_key.status_code == 401
    assert "X-API-KEY" in no_key.json()["detail"]
    assert _post(server, events, key="rl_not-a-real-key").status_code == 401
    assert _post(server, events, key="garbage").status_code == 401
    assert _logged_raws(server) == []


def test_the_same_event_in_two_workspaces_is_two_events(server: RunningServer) -> None:
    other_key = create_key(server.env, workspace="another-team")
    events = execution(node_count=1)
    assert _post(server, events).json()["accepted_count"] == len(events)
    assert _post(server, events, key=other_key).json()["accepted_count"] == len(events)
    assert len(_logged_raws(server)) == 2 * len(events)


@pytest.fixture
def small_server(sqlite_env: dict[str, str]) -> Iterator[RunningServer]:
    env = {**sqlite_env, "RUNLEDGER_MAX_BODY_BYTES": "2000", "RUNLEDGER_MAX_BATCH_EVENTS": "5"}
    with server_in_thread(env) as running:
        yield running


def test_a_body_over_the_limit_is_a_413_and_stores_nothing(small_server: RunningServer) -> None:
    events = execution(node_count=3)
    assert len(orjson.dumps(events)) > 2000
    response = _post(small_server, events)
    assert response.status_code == 413
    assert "2000 bytes" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the limit must hold while streaming, too.
        body = orjson.dumps(events)
        for start in range(0, len(body), 500):
            yield body[start : start + 500]

    streamed = httpx.post(
        small_server.base_url + EVENTS, content=chunks(), headers=small_server.headers(), timeout=10
    )
    assert streamed.status_code == 413
    assert _logged_raws(small_server) == []


def test_a_batch_over_the_event_limit_is_a_400(small_server: RunningServer) -> None:
    events = [workflow_event("initiated", str(uuid.uuid4())) for _ in range(6)]
    response = _post(small_server, [{"id": e["id"], "name": e["name"]} for e in events])
    assert response.status_code == 400
    assert "at most 5 events" in response.json()["errors"][0]["reason"]
    assert _logged_raws(small_server) == []


def test_health_and_readiness_answer_without_a_key(server: RunningServer) -> None:
    assert httpx.get(server.base_url + "/healthz").json() == {"status": "ok"}
    token = _post(server, execution(node_count=0)).json()["log_position"]
    # Reading with min_log_position makes the projection visible up to the batch.
    status = httpx.get(
        f"{server.base_url}/v1/workflows/executions/{uuid.uuid4()}/status?min_log_position={token}",
        headers=server.headers(),
    )
    assert status.status_code == 404
    # Without the admin token, readiness says nothing of how much anyone writes.
    assert httpx.get(server.base_url + "/readyz").json() == {"status": "ready"}
    ready = server.readiness()
    assert ready["status"] == "ready"
    assert ready["log_position"] >= 2
    projections = ready["projections"]
    assert projections["visible_position"] >= ready["log_position"]
    assert projections["behind_count"] == 0
    assert projections["lag_samples_count"] >= 2
    assert 0 <= projections["lag_p50_seconds"] <= projections["lag_p99_seconds"] < 30
    # The batch that held the two events (the execution's initiated and fulfilled) is counted.
    assert projections["batches_count"] >= 1
    assert projections["batch_events_p50"] >= 1
    assert 0 < projections["batch_apply_p50_seconds"] <= projections["batch_apply_p99_seconds"] < 30


def test_an_unknown_route_is_a_json_404(server: RunningServer) -> None:
    response = httpx.get(server.base_url + "/nope", headers=server.headers())
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_what_the_sender_sent_is_stored_byte_for_byte(server: RunningServer) -> None:
    first, second = (workflow_event("initiated", str(uuid.uuid4())) for _ in range(2))
    # Pretty-printed, escaped and non-ASCII forms must survive exactly, not re-encoded.
    raw_first = orjson.dumps(first, option=orjson.OPT_INDENT_2).replace(
        b'"body": {', b'"body" :{"t": "caf\\u00e9 \\/ \xc3\xa9\\n",'
    )
    raw_second = orjson.dumps(second).replace(b",", b" ,\r\n\t")
    body = b"\r\n [ " + raw_first + b" ,\n" + raw_second + b"\t]\n"
    assert _post(server, body).status_code == 200
    assert _logged_raws(server) == [raw_first, raw_second]


def test_a_wrong_method_is_a_405_naming_the_allowed_one(server: RunningServer) -> None:
    response = httpx.get(server.base_url + EVENTS, headers=server.headers())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["detail"]


def test_a_workspace_sees_position_tokens_never_the_shared_log_position(
    server: RunningServer,
) -> None:
    other = create_key(server.env, workspace="someone-else")
    first = _post(server, execution(node_count=0)).json()["log_position"]
    for _ in range(3):
        assert _post(server, execution(node_count=3), key=other).status_code == 200
    second = _post(server, execution(node_count=0)).json()["log_position"]
    # Opaque: not numbers, nothing in common between two answers, so nothing to subtract.
    for token in (first, second):
        assert isinstance(token, str)
        assert not token.lstrip("-").isdigit()
    assert first[:8] != second[:8]

    def status(token: str, key: str | None = None) -> httpx.Response:
        return httpx.get(
            f"{server.base_url}/v1/workflows/executions/{uuid.uuid4()}/status",
            params={"min_log_position": token},
            headers={"X-API-KEY": key or server.api_key},
        )

    assert status(second).status_code == 404  # waited for, then no such execution
    refusals = [
        status(second, key=other),  # another workspace's token
        status(second[:-2] + ("AA" if second[-2:] != "AA" else "BB")),  # a changed one
        status(str(server.readiness()["log_position"])),  # the number itself
    ]
    for refused in refusals:
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["field"] == "min_log_position"
        assert not any(c.isdigit() for c in refused.json()["detail"]), "names no position"
