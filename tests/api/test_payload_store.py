"""The payload store over HTTP: values over RUNLEDGER_INLINE_PAYLOAD_BYTES are kept out of the
hot rows, put back byte for byte where a read shows them inline, and linked where it links."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from projections.clickhouse import connect
from projections.generations import Generations
from tests.api.runtime_support import ENTRYPOINTS, Release, deployed_server
from tests.events import node_event, workflow_event
from tests.servers import RunningServer, post_events, server_in_thread

LIMIT = 2048
ADMIN_TOKEN = "payload-store-admin"


@pytest.fixture(scope="module")
def store_server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    env = {
        **module_log_env,
        "RUNLEDGER_INLINE_PAYLOAD_BYTES": str(LIMIT),
        "RUNLEDGER_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    with server_in_thread(env) as running:
        yield running


def _sent(event: dict[str, Any], value_name: str, value_text: str) -> bytes:
    """The event as a sender might write it: spaced oddly, its large value spliced in as
    `value_text` (escapes and all), so only a byte-for-byte copy gives it back."""
    body = dict(event["body"])
    body[value_name] = "@VALUE@"
    text = orjson.dumps({**event, "body": body}).decode().replace(",", " ,\n ")
    return text.replace('"@VALUE@"', value_text).encode()


@dataclass
class LargeRun:
    """One execution whose root inputs, a node's outputs, the root's outputs and its state are
    over the limit, as sent."""

    execution_id: str
    node_id: str
    raws: list[bytes]
    inputs_text: str
    node_outputs_text: str
    outputs_text: str
    state_text: str
    position: str

    def raw(self, index: int) -> bytes:
        return self.raws[index]


def _large_text(tag: str, size: int) -> str:
    # Whitespace, a unicode escape and a non-ASCII character: JSONExtractRaw would rewrite
    # each, so a reader that got them back got the stored bytes, not a re-serialisation.
    filler = "é" * (size // 2)
    return '{ "text" : "' + tag + "\\u00e9 " + filler + '" ,"n": 1.50}'


def post_large_run(server: RunningServer, node_output_size: int = 3 * LIMIT) -> LargeRun:
    execution_id, node_id = str(uuid.uuid4()), str(uuid.uuid4())
    inputs_text = _large_text("in", 2 * LIMIT)
    node_outputs_text = _large_text("node", node_output_size)
    outputs_text = _large_text("out", 2 * LIMIT)
    state_text = '{"memory": ' + _large_text("state", 2 * LIMIT) + "}"
    raws = [
        _sent(workflow_event("initiated", execution_id, 0), "inputs", inputs_text),
        orjson.dumps(node_event("initiated", execution_id, node_id, 1)),
        _sent(node_event("fulfilled", execution_id, node_id, 5), "outputs", node_outputs_text),
        _sent(workflow_event("snapshotted", execution_id, 6), "state", state_text),
        _sent(workflow_event("fulfilled", execution_id, 10), "outputs", outputs_text),
    ]
    response = httpx.post(
        server.base_url + "/monitoring/v1/events",
        content=b"[" + b",".join(raws) + b"]",
        headers=server.headers(),
    )
    assert response.status_code == 200, response.text
    return LargeRun(
        execution_id,
        node_id,
        raws,
        inputs_text,
        node_outputs_text,
        outputs_text,
        state_text,
        response.json()["log_position"],
    )


@pytest.fixture(scope="module")
def large_run(store_server: RunningServer) -> LargeRun:
    return post_large_run(store_server)


def detail(server: RunningServer, run: LargeRun, **params: str) -> httpx.Response:
    return httpx.get(
        f"{server.base_url}/v1/workflow-executions/{run.execution_id}/detail",
        params={"min_log_position": run.position, **params},
        headers=server.headers(),
    )


def test_a_detail_gives_every_event_back_byte_for_byte(
    store_server: RunningServer, large_run: LargeRun
) -> None:
    response = detail(store_server, large_run)
    assert response.status_code == 200, response.text
    # Snapshots are not among a span's events (the header's `state` has the newest).
    for index in (0, 1, 2, 4):
        assert large_run.raw(index) in response.content
    body = response.json()
    assert body["inputs"] == [
        {
            "id": "text",
            "name": "text",
            "type": "STRING",
            "value": orjson.loads(large_run.inputs_text)["text"],
        },
        {"id": "n", "name": "n", "type": "NUMBER", "value": 1.5},
    ]
    assert {o["name"]: o["value"] for o in body["outputs"]} == orjson.loads(large_run.outputs_text)
    assert body["state"] == orjson.loads(large_run.state_text)
    assert "payload_url" not in response.text


def test_status_and_state_reads_give_the_values_back(
    store_server: RunningServer, large_run: LargeRun
) -> None:
    detail(store_server, large_run)  # visible
    status = httpx.get(
        f"{store_server.base_url}/v1/workflows/executions/{large_run.execution_id}/status",
        headers=store_server.headers(),
    ).json()
    assert status["outputs"] == orjson.loads(large_run.outputs_text)
    state = httpx.get(
        f"{store_server.base_url}/v1/workflows/{large_run.execution_id}/state",
        headers=store_server.headers(),
    ).json()
    assert state["state"] == orjson.loads(large_run.state_text)


def test_the_hot_rows_hold_markers_and_the_store_the_bytes(
    store_server: RunningServer, large_run: LargeRun, clickhouse_url: str
) -> None:
    detail(store_server, large_run)  # visible
    generations = Generations(clickhouse_url, store_server.env["RUNLEDGER_CLICKHOUSE_DATABASE"])
    try:
        client = connect(clickhouse_url, generations.active())
    finally:
        generations.close()
    try:
        ids = {"execution_id": large_run.execution_id}
        lengths = client.query(
            "SELECT max(length(payload)) FROM events WHERE execution_id = {execution_id:UUID}",
            parameters=ids,
        ).result_rows[0][0]
        assert lengths < 1000
        spans = client.query(
            "SELECT span_id, length(argMinMerge(inputs)), length(argMinMerge(outputs)) "
            "FROM span_detail WHERE execution_id = {execution_id:UUID} GROUP BY span_id",
            parameters=ids,
        ).result_rows
        assert all(inputs < 200 and outputs < 200 for _, inputs, outputs in spans)
        stored = client.query(
            "SELECT value, size, bytes FROM payload_values FINAL "
            "WHERE execution_id = {execution_id:UUID} ORDER BY position, value",
            parameters=ids,
            column_formats={"bytes": "bytes"},
        ).result_rows
    finally:
        client.close()
    texts = [
        ("inputs", large_run.inputs_text),
        ("outputs", large_run.node_outputs_text),
        ("state", large_run.state_text),
        ("outputs", large_run.outputs_text),
    ]
    assert [(value, size, data) for value, size, data in stored] == [
        (name, len(text.encode()), text.encode()) for name, text in texts
    ]


def test_with_links_the_detail_links_each_stored_value(
    store_server: RunningServer, large_run: LargeRun
) -> None:
    response = detail(store_server, large_run, payloads="links")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["inputs"] == []
    assert body["outputs"] == []
    assert _get(body["inputs_url"]) == large_run.inputs_text.encode()
    assert _get(body["outputs_url"]) == large_run.outputs_text.encode()
    assert body["state"]["bytes"] == len(large_run.state_text.encode())
    assert _get(body["state"]["payload_url"]) == large_run.state_text.encode()
    (node,) = [span for span in body["spans"] if span["span_id"] == large_run.node_id]
    fulfilled = node["events"][-1]
    link = fulfilled["body"]["outputs"]
    assert link["bytes"] == len(large_run.node_outputs_text.encode())
    assert _get(link["payload_url"]) == large_run.node_outputs_text.encode()
    # The small event is as it was sent.
    assert large_run.raw(1) in response.content


def test_a_payloads_option_other_than_inline_or_links_is_a_400_naming_it(
    store_server: RunningServer, large_run: LargeRun
) -> None:
    response = detail(store_server, large_run, payloads="attached")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "index": None,
            "field": "payloads",
            "reason": "must be 'inline' or 'links', got 'attached'",
        }
    ]


def _get(url: str) -> bytes:
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    return response.content


def test_datalab_links_and_velt_inlines_the_stored_output(
    store_server: RunningServer, large_run: LargeRun
) -> None:
    number = detail(store_server, large_run).json()["number"]
    datalab = httpx.get(
        f"{store_server.base_url}/api/v1/workflows/executions/{number}",
        headers={"X-API-Key": store_server.api_key},
    )
    assert datalab.status_code == 200, datalab.text
    (step,) = datalab.json()["steps"].values()
    assert _get(step["output_url"]) == large_run.node_outputs_text.encode()
    velt = httpx.post(
        f"{store_server.base_url}/v2/workflow/executions/get",
        content=orjson.dumps({"data": {"executionId": large_run.execution_id}}),
        headers={"x-velt-api-key": store_server.api_key},
    )
    assert velt.status_code == 200, velt.text
    (velt_step,) = velt.json()["result"]["steps"]
    assert velt_step["output"] == orjson.loads(large_run.node_outputs_text)


def test_a_marker_a_sender_wrote_itself_stays_as_it_was_sent(
    store_server: RunningServer,
) -> None:
    execution_id, node_id = str(uuid.uuid4()), str(uuid.uuid4())
    forged = '{"$runledger_payload":{"position":1,"value":"outputs","bytes":5}}'
    fulfilled = _sent(node_event("fulfilled", execution_id, node_id, 5), "outputs", forged)
    events = [
        orjson.dumps(workflow_event("initiated", execution_id, 0)),
        orjson.dumps(node_event("initiated", execution_id, node_id, 1)),
        fulfilled,
    ]
    response = httpx.post(
        store_server.base_url + "/monitoring/v1/events",
        content=b"[" + b",".join(events) + b"]",
        headers=store_server.headers(),
    )
    assert response.status_code == 200, response.text
    run = LargeRun(execution_id, node_id, events, "", "", "", "", response.json()["log_position"])
    shown = detail(store_server, run)
    assert shown.status_code == 200, shown.text
    assert fulfilled in shown.content


def test_a_replay_rebuilds_the_store(store_server: RunningServer) -> None:
    run = post_large_run(store_server)
    before = detail(store_server, run).content
    headers = {"X-Admin-Token": ADMIN_TOKEN}
    with httpx.Client(base_url=store_server.base_url, headers=headers, timeout=120) as http:
        assert http.post("/admin/replay").status_code == 202
        while (state := http.get("/admin/replay").json())["state"] == "running":
            pass
        assert state["state"] == "done", state
        after = detail(store_server, run).content
        assert after == before
        assert all(raw in after for raw in (run.raw(0), run.raw(2), run.raw(4)))
        verified = http.post("/admin/verify")
    assert verified.status_code == 200, verified.text
    assert verified.json()["differences"] == []


def test_a_one_mebibyte_output_goes_through_every_read(store_server: RunningServer) -> None:
    run = post_large_run(store_server, node_output_size=1024 * 1024)
    response = detail(store_server, run)
    assert response.status_code == 200, response.text
    assert run.raw(2) in response.content
    linked = detail(store_server, run, payloads="links")
    assert len(linked.content) < 20_000
    (node,) = [s for s in linked.json()["spans"] if s["span_id"] == run.node_id]
    assert _get(node["events"][-1]["body"]["outputs"]["payload_url"]) == (
        run.node_outputs_text.encode()
    )


def test_a_value_at_the_limit_stays_inline(store_server: RunningServer) -> None:
    execution_id, node_id = str(uuid.uuid4()), str(uuid.uuid4())
    at_limit = '{"a":"' + "x" * (LIMIT - 8) + '"}'
    assert len(at_limit) == LIMIT
    fulfilled = _sent(node_event("fulfilled", execution_id, node_id, 5), "outputs", at_limit)
    assert len(fulfilled) > LIMIT
    position = post_events(store_server, [orjson.loads(fulfilled)])
    # The sent bytes are orjson's here: compare the stored rows' lengths instead.
    run = LargeRun(execution_id, node_id, [], "", "", "", "", position)
    assert detail(store_server, run).status_code == 200
    linked = detail(store_server, run, payloads="links").json()
    assert "payload_url" not in orjson.dumps(linked).decode()


def test_a_repeated_stream_replays_the_stored_values_as_they_were_sent(
    sqlite_env: dict[str, str],
) -> None:
    # A repeated streaming request replays the run's events from the projections
    # (Views.recorded_events): its large inputs come back from the store.
    with deployed_server(
        sqlite_env,
        [Release("summarize", f"{ENTRYPOINTS}:summarize")],
        RUNLEDGER_INLINE_PAYLOAD_BYTES=str(LIMIT),
    ) as server:
        url = f"{server.base_url}/v1/workflow-deployments/summarize/execute-stream"
        body = {"inputs": {"text": "many words " * LIMIT}, "external_id": "large-stream"}
        streams = [
            httpx.post(url, json=body, headers=server.headers(), timeout=60).content
            for _ in range(2)
        ]
    first, repeat = streams
    assert b"$runledger_payload" not in repeat
    assert max(len(line) for line in first.splitlines()) > LIMIT
    assert repeat == first
