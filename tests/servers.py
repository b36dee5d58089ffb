"""Real Runledger servers for tests: uvicorn in a thread, or `runledger serve` in a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn
from vellum import Vellum, VellumEnvironment

from api.app import create_app, open_ledger
from api.cli import server_config
from api.settings import Settings
from domain.keys import KeyRing, workspace_id_for
from domain.position_tokens import PositionTokens


@dataclass(frozen=True)
class RunningServer:
    """A server a test can talk to over HTTP."""

    base_url: str
    api_key: str
    env: Mapping[str, str]

    def headers(self) -> dict[str, str]:
        return {"X-API-KEY": self.api_key, "Content-Type": "application/json"}

    def readiness(self) -> dict[str, Any]:
        """`/readyz` as an operator reads it (the admin token shows the positions)."""
        response = httpx.get(
            f"{self.base_url}/readyz",
            headers={"X-Admin-Token": self.env["RUNLEDGER_ADMIN_TOKEN"]},
            timeout=10,
        )
        body: dict[str, Any] = response.json()
        return body


TEST_ADMIN_TOKEN = "tests-admin-token"


def position_token(
    env: Mapping[str, str], position: int | None = None, workspace: str = "tests"
) -> str:
    """A `min_log_position` token of `position` (the log's head by default) for the workspace,
    as ingest would answer it: for waits on what a test wrote straight into the log."""
    ledger = open_ledger(Settings.from_env(env))
    try:
        tokens = PositionTokens.of_log(ledger)
        at = ledger.max_position() if position is None else position
        return tokens.token(workspace_id_for(workspace), at)
    finally:
        ledger.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def create_key(env: Mapping[str, str], workspace: str = "tests") -> str:
    """A new API key in the log the env names (the server need not run)."""
    ledger = open_ledger(Settings.from_env(env))
    try:
        key, _ = KeyRing(ledger).create(workspace)
        return key
    finally:
        ledger.close()


def wait_until_ready(base_url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"server at {base_url} not ready after {timeout}s")
        time.sleep(0.05)


@contextmanager
def server_in_thread(env: Mapping[str, str]) -> Iterator[RunningServer]:
    """The real app under uvicorn on a free port, in this process."""
    env = {"RUNLEDGER_ADMIN_TOKEN": TEST_ADMIN_TOKEN, **env}
    port = free_port()
    key = create_key(env)
    settings = replace(Settings.from_env(env), host="127.0.0.1", port=port)
    server = uvicorn.Server(server_config(create_app(env, settings), settings))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base_url)
        yield RunningServer(base_url, key, env)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class ServerProcess:
    """`runledger serve` as a child process, so a test can kill it the hard way."""

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        if self.env.get("RUNLEDGER_CLICKHOUSE_URL", "chdb://").startswith("chdb://"):
            # The test process holds the shared chDB path; a child needs an engine of its own.
            self.env["RUNLEDGER_CLICKHOUSE_URL"] = (
                f"chdb://{(log_path.parent / 'chdb-server').resolve()}"
            )
        self.port = free_port()
        self.env["RUNLEDGER_PORT"] = str(self.port)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve"],
                env={**os.environ, **self.env},
                stdout=log_file,
                stderr=log_file,
            )
        wait_until_ready(self.base_url)

    def readiness(self) -> dict[str, Any]:
        """`/readyz` with the admin token `serve` left in its data folder."""
        settings = Settings.from_env(self.env)
        token = settings.admin_token or settings.admin_token_path.read_text().strip()
        response = httpx.get(
            f"{self.base_url}/readyz", headers={"X-Admin-Token": token}, timeout=10
        )
        body: dict[str, Any] = response.json()
        return body

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


@contextmanager
def vellum_client(server: RunningServer) -> Iterator[Vellum]:
    """vellum-ai's client aimed at the server, on an HTTP client closed afterwards."""
    base = server.base_url
    with httpx.Client(timeout=60) as http:
        yield Vellum(
            api_key=server.api_key,
            environment=VellumEnvironment(default=base, predict=base, documents=base),
            httpx_client=http,
        )


def post_events(server: RunningServer, events: list[dict[str, Any]], key: str | None = None) -> str:
    """Post raw events (with another workspace's key if given); the position token to wait for."""
    headers = {**server.headers(), **({"X-API-KEY": key} if key else {})}
    response = httpx.post(
        server.base_url + "/monitoring/v1/events", content=orjson.dumps(events), headers=headers
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["log_position"]
    return token


def post_visible(server: RunningServer, executions: list[list[dict[str, Any]]]) -> None:
    """Post each execution's events, then wait until the last of them is visible."""
    token = ""
    for events in executions:
        token = post_events(server, events)
    response = httpx.get(
        f"{server.base_url}/v1/workflow-executions",
        params={"min_log_position": token, "limit": 1},
        headers=server.headers(),
    )
    assert response.status_code == 200, response.text
