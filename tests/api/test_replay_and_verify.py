"""`runledger replay` and `runledger verify`: rebuild aside without taking reads down."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import orjson
import pytest

from tests.events import execution
from tests.sdk_workflows import SDK_WORKFLOWS, root_execution
from tests.servers import ServerProcess, create_key

pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_replay_switches_reads_while_serving_and_verify_agrees(tmp_path: Path) -> None:
    server = ServerProcess({"RUNLEDGER_DATA_DIR": str(tmp_path / "data")}, tmp_path / "server.log")
    key = create_key(server.env)
    server.start()
    headers = {"X-API-KEY": key}
    events = SDK_WORKFLOWS["map"]() + [e for _ in range(20) for e in execution(node_count=5)]
    linear = SDK_WORKFLOWS["linear"]()
    root = str(root_execution(linear))
    position = 0
    for start in range(0, len(events + linear), 50):
        response = httpx.post(
            f"{server.base_url}/monitoring/v1/events",
            content=orjson.dumps((events + linear)[start : start + 50]),
            headers=headers,
        )
        position = response.json()["log_position"]
    status_url = f"{server.base_url}/v1/workflows/executions/{root}/status"
    assert (
        httpx.get(status_url, params={"min_log_position": position}, headers=headers).json()[
            "status"
        ]
        == "FULFILLED"
    )

    # Reads keep answering, correctly, all through the replay.
    answers: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        with httpx.Client(headers=headers, timeout=30) as http:
            while not stop.is_set():
                response = http.get(status_url)
                answers.append(
                    response.status_code if response.json().get("status") == "FULFILLED" else -1
                )

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        replayed = _cli(server.env, "replay")
    finally:
        stop.set()
        thread.join()
    assert replayed.returncode == 0, replayed.stderr
    assert "runledger_g2" in replayed.stdout
    assert answers
    assert set(answers) == {200}

    verified = _cli(server.env, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "0 differences" in verified.stdout
    ready = server.readiness()
    assert ready["projections"]["visible_position"] >= ready["log_position"]
    server.stop()

    # With the server stopped, both commands run on the engine directly.
    offline = _cli(server.env, "replay")
    assert offline.returncode == 0, offline.stderr
    assert "runledger_g3" in offline.stdout
    assert _cli(server.env, "verify").returncode == 0


def test_verify_reports_a_projection_that_lost_an_execution(tmp_path: Path) -> None:
    server = ServerProcess({"RUNLEDGER_DATA_DIR": str(tmp_path / "data")}, tmp_path / "server.log")
    key = create_key(server.env)
    server.start()
    events = execution(node_count=2)
    position = httpx.post(
        f"{server.base_url}/monitoring/v1/events",
        content=orjson.dumps(events),
        headers={"X-API-KEY": key},
    ).json()["log_position"]
    httpx.get(
        f"{server.base_url}/v1/workflows/executions/{events[0]['span_id']}/status",
        params={"min_log_position": position},
        headers={"X-API-KEY": key},
    )
    server.stop()
    # Damage the projection behind the server's back, the way a bad migration might; in a
    # process of its own, since this one holds the tests' chDB engine.
    damage = (
        "from projections.clickhouse import connect; import sys; "
        "connect(sys.argv[1], 'runledger_g1').command('TRUNCATE TABLE executions')"
    )
    subprocess.run(
        [sys.executable, "-c", damage, server.env["RUNLEDGER_CLICKHOUSE_URL"]],
        check=True,
        timeout=120,
    )
    damaged = _cli(server.env, "verify")
    assert damaged.returncode == 1
    assert "missing from the projections" in damaged.stdout
