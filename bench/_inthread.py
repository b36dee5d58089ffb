"""The real app under uvicorn in a thread of the benchmark process, for the HTTP read paths.

chDB allows one engine path per process, so a server reading the databases this process built
must live in this process: `create_app` with `RUNLEDGER_CLICKHOUSE_URL` naming the same path
and the generation pointer aimed at the database to read. Client and server then share this
process (and its GIL): the HTTP numbers include both sides, as a same-host client would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from api.app import create_app
from bench._server import Server, create_key, free_port
from bench._stores import Env
from projections.generations import Generations

READY_SECONDS = 60.0


@contextmanager
def app_in_thread(env: Env, workspace: str, database: str) -> Iterator[Server]:
    """Serve `database` (made the live generation of the env's base database) on a free port.

    The projector is off: these servers only read what the benchmark wrote.
    """
    env = {**env, "RUNLEDGER_PROJECTOR": "off"}
    generations = Generations(env["RUNLEDGER_CLICKHOUSE_URL"], env["RUNLEDGER_CLICKHOUSE_DATABASE"])
    try:
        generations.activate(database)
    finally:
        generations.close()
    key = create_key(env, workspace)
    port = free_port()
    config = uvicorn.Config(
        create_app(env), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-http", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(base_url, thread)
        yield Server(base_url, key, pid=0)
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def _wait_until_ready(base_url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the in-process server stopped before it was ready")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"the in-process server was not ready after {READY_SECONDS} s")
