"""`GET /v1/workflow-executions/{execution_id}/events`: an execution's history as stored, paged
by position either way, long-polled, and streamed as NDJSON."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.events import Event, execution, node_event
from tests.sdk_workflows import SDK_WORKFLOWS, root_execution
from tests.servers import RunningServer, create_key, post_events, server_in_thread

# Small, so a 2 KiB output goes to the payload store and must be put back byte for byte.
INLINE_LIMIT = 1024


@pytest.fixture(scope="module")
def server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    env = {**module_log_env, "RUNLEDGER_INLINE_PAYLOAD_BYTES": str(INLINE_LIMIT)}
    with server_in_thread(env) as running:
        yield running


def history(server: RunningServer, execution_id: str, **params: Any) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/events",
        params=params,
        headers={"X-API-KEY": server.api_key},
        timeout=90,
    )


def spaced(event: Event) -> bytes:
    """The event as a sender might write it: indented, keys spaced, a line break or two."""
    return orjson.dumps(event, option=orjson.OPT_INDENT_2).replace(b'":', b'" :')


def post_raw(server: RunningServer, bodies: list[bytes]) -> str:
    response = httpx.post(
        f"{server.base_url}/monitoring/v1/events",
        content=b"[\n" + b",\n".join(bodies) + b"\n]",
        headers=server.headers(),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["log_position"]
    return token


def exact_events(response: httpx.Response) -> list[bytes]:
    """Each item's `event` as it appears in the answer's bytes (items never nest a key
    `"event":` ahead of their own: position and time come first)."""
    body = response.content
    data = orjson.loads(body)["data"]
    found = []
    start = 0
    for item in data:
        start = body.index(b',"event":', start) + len(b',"event":')
        end = start
        # The item's closing brace follows the event; find the event's end by parsing.
        for end in range(start + 1, len(body) + 1):
            try:
                if orjson.loads(body[start:end]) == item["event"]:
                    break
            except orjson.JSONDecodeError:
                continue
        found.append(body[start:end])
        start = end
    return found


@pytest.fixture(scope="module")
def sent(server: RunningServer) -> dict[str, Any]:
    """One execution posted as spaced, indented JSON, one node with a 2 KiB output."""
    events = execution(node_count=3)
    events[4]["body"]["outputs"] = {"text": "x" * 2048}
    bodies = [spaced(event) for event in events]
    token = post_raw(server, bodies)
    return {"events": events, "bodies": bodies, "token": token, "id": events[0]["span_id"]}


def test_the_history_is_every_event_oldest_first_byte_for_byte(
    server: RunningServer, sent: dict[str, Any]
) -> None:
    answer = history(server, sent["id"], min_log_position=sent["token"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [item["event"]["id"] for item in body["data"]] == [e["id"] for e in sent["events"]]
    assert exact_events(answer) == sent["bodies"]
    assert body["has_more"] is False
    rest = history(server, sent["id"], after_position=body["next_after_position"]).json()
    assert rest["data"] == [] or rest["data"][0]["event"]["id"] not in {
        e["id"] for e in sent["events"]
    }
    for item in body["data"]:
        assert item["received_at"].endswith("+00:00")
        assert len(item["log_position"]) == 32  # a token, never the number


def test_pages_by_position_in_either_order_meet_each_event_once(
    server: RunningServer, sent: dict[str, Any]
) -> None:
    for order, expected in (("asc", sent["events"]), ("desc", sent["events"][::-1])):
        seen: list[str] = []
        after = None
        while True:
            params: dict[str, Any] = {"limit": 3, "order": order}
            if after is not None:
                params["after_position"] = after
            page = history(server, sent["id"], **params).json()
            seen += [item["event"]["id"] for item in page["data"]]
            after = page["next_after_position"]
            if not page["has_more"]:
                break
        assert seen == [e["id"] for e in expected], order


def test_a_long_poll_answers_as_soon_as_a_newer_event_is_stored(
    server: RunningServer, sent: dict[str, Any]
) -> None:
    end = history(server, sent["id"]).json()["next_after_position"]
    later = node_event("initiated", sent["id"], str(uuid.uuid4()), 500)
    answers: list[httpx.Response] = []
    poll = threading.Thread(
        target=lambda: answers.append(history(server, sent["id"], after_position=end, wait=30))
    )
    started = time.monotonic()
    poll.start()
    time.sleep(0.5)
    post_events(server, [later])
    poll.join(60)
    took = time.monotonic() - started
    (answer,) = answers
    assert answer.status_code == 200, answer.text
    assert [item["event"]["id"] for item in answer.json()["data"]] == [later["id"]]
    assert took < 15  # well before the wait's end


def test_a_long_poll_with_nothing_newer_ends_empty_at_its_wait(
    server: RunningServer, sent: dict[str, Any]
) -> None:
    end = history(server, sent["id"], order="desc", limit=1).json()["data"][0]["log_position"]
    started = time.monotonic()
    answer = history(server, sent["id"], after_position=end, wait=1.5)
    assert 1.4 <= time.monotonic() - started < 10
    assert answer.json() == {"data": [], "has_more": False, "next_after_position": end}


def test_ndjson_streams_the_whole_history_one_line_an_event(
    server: RunningServer, sent: dict[str, Any]
) -> None:
    with httpx.stream(
        "GET",
        f"{server.base_url}/v1/workflow-executions/{sent['id']}/events",
        headers={"X-API-KEY": server.api_key, "Accept": "application/x-ndjson"},
        params={"min_log_position": sent["token"]},
    ) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        lines = [orjson.loads(line) for line in answer.iter_lines() if line]
    # The same items as the JSON answer's (the long-poll test's later event too, if it ran).
    paged = history(server, sent["id"], limit=1000).json()["data"]
    assert [line["event"] for line in lines] == [item["event"] for item in paged]
    assert [line["event"] for line in lines][: len(sent["events"])] == sent["events"]
    assert all(line.keys() == {"log_position", "received_at", "event"} for line in lines)


def test_a_nested_sdk_run_is_one_history_with_its_sub_workflow(server: RunningServer) -> None:
    events = SDK_WORKFLOWS["nested"]()
    token = post_events(server, events)
    execution_id = str(root_execution(events))
    body = history(server, execution_id, min_log_position=token, limit=1000).json()
    assert [item["event"]["id"] for item in body["data"]] == [event["id"] for event in events]
    names = {item["event"]["name"] for item in body["data"]}
    # The sub-workflow's own workflow events are in its parent's history.
    sub_workflows = [
        item
        for item in body["data"]
        if item["event"]["name"].startswith("workflow.")
        and item["event"]["span_id"] != execution_id
    ]
    assert sub_workflows
    assert "node.execution.fulfilled" in names


def test_another_workspace_and_an_unknown_execution_are_404(
    server: RunningServer, sent: dict[str, Any]
) -> None:
    other = create_key(server.env, "history-stranger")
    stranger = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{sent['id']}/events",
        headers={"X-API-KEY": other},
    )
    assert stranger.status_code == 404
    assert sent["events"][0]["id"] not in stranger.text
    assert history(server, str(uuid.uuid4())).status_code == 404
    assert history(server, str(uuid.uuid4()), wait=1).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"order": "sideways"}, "order"),
        ({"wait": 61}, "wait"),
        ({"wait": "soon"}, "wait"),
        ({"wait": "nan"}, "wait"),
        ({"wait": 1, "order": "desc"}, "wait"),
        ({"after_position": "12"}, "after_position"),
        ({"min_log_position": "nope"}, "min_log_position"),
    ],
)
def test_bad_parameters_are_400s_naming_them(
    server: RunningServer, sent: dict[str, Any], params: dict[str, Any], field: str
) -> None:
    answer = history(server, sent["id"], **params)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["field"] == field


def test_a_position_token_of_another_workspace_is_refused(
    server: RunningServer, sent: dict[str, Any]
) -> None:
    other = create_key(server.env, "history-tokens")
    theirs = httpx.post(
        f"{server.base_url}/monitoring/v1/events",
        content=orjson.dumps(execution(node_count=1)),
        headers={"X-API-KEY": other, "Content-Type": "application/json"},
    ).json()["log_position"]
    answer = history(server, sent["id"], after_position=theirs)
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "after_position"


def test_a_path_that_is_not_a_uuid_is_a_400(server: RunningServer) -> None:
    answer = history(server, "not-a-uuid")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "execution_id"


def test_a_wait_with_an_ndjson_stream_is_a_400(server: RunningServer, sent: dict[str, Any]) -> None:
    answer = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{sent['id']}/events",
        params={"wait": 1},
        headers={"X-API-KEY": server.api_key, "Accept": "application/x-ndjson"},
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "wait"
