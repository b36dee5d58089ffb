"""`runledger serve` as a child process, the way an operator runs it, on a free local port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._stores import Env, open_log
from domain.keys import KeyRing

READY_SECONDS = 60.0
# The servers' admin token: /readyz shows how far projections are only to the operator.
ADMIN_TOKEN = "bench-admin-token"
ADMIN_HEADERS = {"X-Admin-Token": ADMIN_TOKEN}
# Configuration the caller's shell may carry; the server gets only what the benchmark sets.
_CONFIG_PREFIXES = ("RUNLEDGER_", "PERSISTENCE_MODULE", "SQLITE_", "POSTGRES_", "CREATE_TABLE")


@dataclass(frozen=True)
class Server:
    """A running server: where it listens, a key it accepts, its process id."""

    base_url: str
    api_key: str
    pid: int


def create_key(env: Env, workspace: str) -> str:
    """A new API key for `workspace` in the log the server will open."""
    ledger = open_log(env)
    try:
        key, _ = KeyRing(ledger).create(workspace)
        return key
    finally:
        ledger.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(env: Env, workspace: str, log_path: Path) -> Iterator[Server]:
    """Start `python -m api.cli serve` configured by `env` alone; stop it afterwards."""
    key = create_key(env, workspace)
    port = free_port()
    server_env = {
        "RUNLEDGER_ADMIN_TOKEN": ADMIN_TOKEN,
        **env,
        "RUNLEDGER_HOST": "127.0.0.1",
        "RUNLEDGER_PORT": str(port),
    }
    with spawn(["-m", "api.cli", "serve"], server_env, log_path, port, key) as server:
        yield server


@contextmanager
def spawn(args: list[str], env: Env, log_path: Path, port: int, api_key: str) -> Iterator[Server]:
    """`python ARGS` listening on `port`, with only `env` of the Runledger configuration, until
    its /readyz answers 200; stopped (SIGTERM) afterwards."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(_CONFIG_PREFIXES)}
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, *args],
            env={**inherited, **env},
            stdout=log_file,
            stderr=log_file,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_until_ready(base_url, process, log_path)
        yield Server(base_url, api_key, process.pid)
    finally:
        _stop(process)


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the server was not ready after {READY_SECONDS} s; see {log_path}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # SIGTERM is the graceful stop an operator would send; a hung server is killed after that.
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
