"""The `runledger` command: first key on the quickstart, key management, graceful stop."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import orjson

from api.app import open_ledger
from api.settings import Settings
from tests.events import execution
from tests.servers import ServerProcess


def _cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**os.environ, "RUNLEDGER_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_creates_a_first_key_and_stops_gracefully_losing_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess({"RUNLEDGER_DATA_DIR": str(data)}, tmp_path / "server.log")
    server.start()
    key_file = data / "first-api-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    events = execution(node_count=2)
    response = httpx.post(
        server.base_url + "/monitoring/v1/events",
        content=orjson.dumps(events),
        headers={"X-API-KEY": key},
    )
    assert response.json()["accepted_count"] == len(events)
    recorded = orjson.loads((data / "server.json").read_bytes())
    assert recorded["url"] == server.base_url
    # uvicorn re-raises the SIGTERM it handled once it has drained, as process managers expect.
    assert server.stop() in (0, -signal.SIGTERM)
    assert not (data / "server.json").exists(), "a stopped server's address must not linger"
    log_lines = [
        orjson.loads(line)
        for line in (tmp_path / "server.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert any(line["msg"] == "stopped" for line in log_lines)
    assert any(str(key_file.resolve()) == line.get("path") for line in log_lines)
    assert all(key not in str(line) for line in log_lines), "the key itself must never be logged"
    ledger = open_ledger(Settings.from_env({"RUNLEDGER_DATA_DIR": str(data)}))
    try:
        assert len(ledger.read(after=0, limit=100)) == len(events)
    finally:
        ledger.close()


def test_keys_are_created_listed_and_revoked(tmp_path: Path) -> None:
    created = _cli(tmp_path, "keys", "create", "--workspace", "acme")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("rl_")
    assert len(key) > 40
    listed = _cli(tmp_path, "keys", "list")
    shown, workspace, _, state = listed.stdout.strip().split("\t")
    assert key.startswith(shown)
    assert workspace == "acme"
    assert state == "active"
    assert key not in listed.stdout

    revoked = _cli(tmp_path, "keys", "revoke", shown)
    assert revoked.returncode == 0, revoked.stderr
    assert _cli(tmp_path, "keys", "list").stdout.strip().endswith("revoked")
    assert _cli(tmp_path, "keys", "revoke", shown).returncode == 1

    server = ServerProcess({"RUNLEDGER_DATA_DIR": str(tmp_path)}, tmp_path / "server.log")
    server.start()
    try:
        response = httpx.post(
            server.base_url + "/monitoring/v1/events",
            content=orjson.dumps(execution(node_count=0)),
            headers={"X-API-KEY": key},
        )
        assert response.status_code == 401
    finally:
        server.stop()
