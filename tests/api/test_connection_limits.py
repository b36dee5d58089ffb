"""Slow, huge and numerous connections cannot stop the service (api/connections.py)."""

from __future__ import annotations

import os
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.events import execution
from tests.servers import RunningServer, create_key, free_port, server_in_thread, wait_until_ready

LIMITS = {
    "RUNLEDGER_HEADER_TIMEOUT_SECONDS": "1",
    "RUNLEDGER_BODY_TIMEOUT_SECONDS": "1",
    "RUNLEDGER_MAX_HEADER_BYTES": "8192",
    "RUNLEDGER_MAX_HEADERS": "50",
    "RUNLEDGER_MAX_CONNECTIONS": "20",
}


@pytest.fixture
def limited(sqlite_env: dict[str, str]) -> Iterator[RunningServer]:
    with server_in_thread({**sqlite_env, **LIMITS}) as server:
        yield server


def _connect(server: RunningServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _dribble(sock: socket.socket, pieces: list[bytes], pause: float) -> float:
    """Send the pieces one at a time; the seconds until the server closed the connection."""
    started = time.monotonic()
    for piece in pieces:
        try:
            sock.sendall(piece)
        except OSError:
            break
        time.sleep(pause)
    _answer(sock)
    return time.monotonic() - started


def _log_head(server: RunningServer) -> int:
    return int(server.readiness()["log_position"])


def test_a_head_sent_a_header_at_a_time_is_cut_off(limited: RunningServer) -> None:
    with _connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        seconds = _dribble(sock, [b"X-Slow: 1\r\n"] * 30, 0.2)
    assert seconds < 3.5, "the head timeout (1 s) did not close the connection"


def test_a_connection_that_sends_nothing_is_cut_off(limited: RunningServer) -> None:
    with _connect(limited) as sock:
        started = time.monotonic()
        answer = _answer(sock)
    assert time.monotonic() - started < 3
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_body_sent_a_byte_at_a_time_is_cut_off_and_stores_nothing(
    limited: RunningServer,
) -> None:
    before = _log_head(limited)
    body = orjson.dumps(execution(node_count=1))
    head = (
        f"POST /monitoring/v1/events HTTP/1.1\r\nHost: x\r\nX-API-KEY: {limited.api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _connect(limited) as sock:
        sock.sendall(head)
        seconds = _dribble(sock, [body[n : n + 1] for n in range(len(body))], 0.2)
    assert seconds < 3.5, "the body timeout (1 s) did not close the connection"
    assert _log_head(limited) == before


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([b"X-Big: " + b"a" * 1_000_000], id="one-header-of-a-megabyte"),
        pytest.param([b"X-H%d: v" % n for n in range(10_000)], id="ten-thousand-headers"),
    ],
)
def test_a_head_past_the_limits_is_refused_with_431(
    limited: RunningServer, headers: list[bytes]
) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"\r\n".join(headers) + b"\r\n\r\n"
    with _connect(limited) as sock:
        # A piece at a time, stopping at the answer: bytes the server never read would make
        # its close a reset, which discards the answer before this side reads it.
        for start in range(0, len(request), 4096):
            sock.sendall(request[start : start + 4096])
            time.sleep(0.05)
            if select.select([sock], [], [], 0)[0]:
                break
        answer = _answer(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def test_connections_past_the_cap_are_refused_at_once_and_the_service_stays_up(
    limited: RunningServer,
) -> None:
    held = [_connect(limited) for _ in range(20)]
    try:
        with _connect(limited) as extra:
            answer = _answer(extra)
        assert answer.startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in held:
            sock.close()
    # The held sockets are gone: ingest answers again.
    deadline = time.monotonic() + 10
    while True:
        response = httpx.post(
            f"{limited.base_url}/monitoring/v1/events",
            content=orjson.dumps(execution(node_count=1)),
            headers=limited.headers(),
        )
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert response.status_code == 200, response.text


@pytest.mark.slow
def test_six_hundred_half_open_connections_under_512_descriptors_stop_nothing(
    tmp_path: Path,
) -> None:
    """The attack as it was reported: `runledger serve` with a descriptor limit of 512."""
    env = {
        **os.environ,
        "RUNLEDGER_DATA_DIR": str(tmp_path / "data"),
        "RUNLEDGER_CLICKHOUSE_URL": f"chdb://{tmp_path / 'data' / 'clickhouse'}",
        "RUNLEDGER_PORT": str(free_port()),
        "RUNLEDGER_HEADER_TIMEOUT_SECONDS": "3",
    }
    key = create_key(env)
    base = f"http://127.0.0.1:{env['RUNLEDGER_PORT']}"
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 (closed below)

    def descriptors_512() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, 512))

    server = subprocess.Popen(
        [sys.executable, "-m", "runledger", "serve"],
        env=env,
        stdout=log,
        stderr=log,
        preexec_fn=descriptors_512,  # noqa: PLW1509 (only sets a limit of the child's)
    )
    half_open: list[socket.socket] = []
    try:
        wait_until_ready(base)
        for _ in range(600):
            try:
                sock = socket.create_connection(("127.0.0.1", int(env["RUNLEDGER_PORT"])), 5)
                sock.sendall(b"POST /monitoring/v1/events HTTP/1.1\r\nHost: x\r\n")
                half_open.append(sock)
            except OSError:
                break  # refused at once: the cap at work
        # While they are held, and once the head timeout has closed them, ingest works.
        deadline = time.monotonic() + 15
        while True:
            try:
                response = httpx.post(
                    f"{base}/monitoring/v1/events",
                    content=orjson.dumps(execution(node_count=1)),
                    headers={"X-API-KEY": key},
                    timeout=5,
                )
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "ingest did not recover"
            time.sleep(0.2)
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    finally:
        for sock in half_open:
            sock.close()
        server.terminate()
        server.wait(timeout=60)
        log.close()
    assert b"Too many open files" not in (tmp_path / "server.log").read_bytes()
