"""A server killed with SIGKILL mid-ingest loses no acknowledged event and no half batch."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from api.app import open_ledger
from api.settings import Settings
from tests.events import execution
from tests.servers import ServerProcess, create_key

pytestmark = pytest.mark.slow


def test_every_acknowledged_event_survives_a_sigkill(
    log_env: dict[str, str], tmp_path: Path
) -> None:
    key = create_key(log_env)
    server = ServerProcess(log_env, tmp_path / "server.log")
    server.start()
    acknowledged: list[list[str]] = []
    attempted: list[list[str]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server.base_url, headers={"X-API-KEY": key}, timeout=10) as http:
            while not stop.is_set():
                batch = execution(node_count=4)
                ids = [e["id"] for e in batch]
                with lock:
                    attempted.append(ids)
                try:
                    response = http.post("/monitoring/v1/events", content=orjson.dumps(batch))
                except httpx.HTTPError:
                    return  # the server is gone
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(ids)

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    # Kill only once a good number of batches were acknowledged, while clients still send.
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()
    stop.set()
    for thread in clients:
        thread.join(timeout=30)
    assert len(acknowledged) >= 40

    server.start()  # restart on the same log
    try:
        ledger = open_ledger(Settings.from_env(log_env))
        try:
            logged = {orjson.loads(e.raw)["id"] for e in ledger.read(after=0, limit=1_000_000)}
        finally:
            ledger.close()
        assert all(set(ids) <= logged for ids in acknowledged)
        # A batch is all in or all out, acknowledged or not.
        for ids in attempted:
            assert set(ids) <= logged or not set(ids) & logged
        # And the restarted server takes events again.
        assert (
            httpx.post(
                server.base_url + "/monitoring/v1/events",
                content=orjson.dumps(execution(node_count=1)),
                headers={"X-API-KEY": key},
            ).status_code
            == 200
        )
    finally:
        server.stop()
