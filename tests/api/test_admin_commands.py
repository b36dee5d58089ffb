"""`runledger replay` and `verify` send the admin token to their data folder's server only."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import orjson
import pytest

from api.admin_client import admin_proof
from tests.servers import RunningServer

pytestmark = pytest.mark.slow

TOKEN = "the-folder-s-admin-token"


class _Recorder(BaseHTTPRequestHandler):
    """Some other program on a port: answers 200 to everything, remembers what it was sent."""

    seen: list[dict[str, str]]

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.seen.append(dict(self.headers))
        body = orjson.dumps({"status": "ok", "proof": "0" * 64})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def other_program() -> Iterator[tuple[int, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def _data_folder(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "admin-token").write_text(TOKEN + "\n")
    return data


def _cli(data: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "RUNLEDGER_DATA_DIR": str(data),
        "RUNLEDGER_PORT": str(port),
        "RUNLEDGER_CLICKHOUSE_URL": f"chdb://{data / 'clickhouse'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "runledger", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_program_on_the_configured_port_is_not_sent_the_token(tmp_path: Path) -> None:
    data = _data_folder(tmp_path)
    with other_program() as (port, seen):
        # No server of this folder runs (no server.json): verify works on the folder itself.
        done = _cli(data, port, "verify")
    assert done.returncode == 0, done.stderr
    assert "0 differences" in done.stdout
    assert seen == []


@pytest.mark.parametrize("command", ["replay", "verify"])
def test_a_recorded_address_that_cannot_prove_the_token_is_refused(
    tmp_path: Path, command: str
) -> None:
    data = _data_folder(tmp_path)
    with other_program() as (port, seen):
        (data / "server.json").write_bytes(orjson.dumps({"url": f"http://127.0.0.1:{port}"}))
        done = _cli(data, port, command)
    assert done.returncode == 2
    assert "cannot prove it holds this data folder's admin token" in done.stderr
    assert seen, "the command asked for a proof"
    assert all(TOKEN not in str(headers) for headers in seen)


def test_the_proof_depends_on_the_token_and_the_challenge() -> None:
    proof = admin_proof(TOKEN, "a" * 32)
    assert proof != admin_proof(TOKEN + "x", "a" * 32)
    assert proof != admin_proof(TOKEN, "b" * 32)
    assert TOKEN not in proof


def test_a_method_admin_replay_does_not_serve_is_a_405_allowing_get_and_post(
    sqlite_server: RunningServer,
) -> None:
    # Two routes on one path used to answer with the first route's method alone.
    response = httpx.request("OPTIONS", f"{sqlite_server.base_url}/admin/replay")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
