"""Receipt-to-visibility lag of a real `runledger serve` while it ingests at a steady rate.

One client thread posts batches of 100 on a fixed schedule (batch i is due at start + i/rate;
a late batch goes at once, and how late is recorded). For every k-th batch, a second thread
takes the execution whose root `initiated` event is in that batch and, from the moment the
batch's 200 answer arrived, polls `GET /v1/workflows/executions/{id}/status` (without
`min_log_position`) until it answers 200: the lag a client sees. Projections apply the log in
order, so once that execution shows, the whole batch is visible. The server's own view, the
`/readyz` lag (receipt to visibility of recent events), is read at the end.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from bench._events import root_execution
from bench._latency import Samples
from bench._runners import EVENTS_PATH, process_cpu_seconds
from bench._server import ADMIN_HEADERS

POLL_SECONDS = 0.005
SETTLE_SECONDS = 60.0


@dataclass(frozen=True)
class SteadyRun:
    """What one steady-rate run measured."""

    target_events_per_second: float
    events_count: int
    seconds: float
    max_slip_seconds: float  # how late the latest batch left against its schedule
    client_lag: Samples  # 200 answer to the status answering 200
    poll_round_trip: Samples  # one status request, while waiting
    server_cpu_seconds: float
    readyz: dict[str, Any]

    @property
    def events_per_second(self) -> float:
        """Acknowledged events per second of wall time."""
        return self.events_count / self.seconds


def _post(http: httpx.Client, body: bytes) -> int:
    response = http.post(EVENTS_PATH, content=body)
    if response.status_code != 200:
        raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
    accepted: int = orjson.loads(response.content)["accepted_count"]
    return accepted


def max_rate(base_url: str, key: str, bodies: list[bytes], warmup: list[bytes]) -> float:
    """Events/s of one client posting the bodies back to back (the sustainable-rate probe)."""
    headers = {"X-API-KEY": key, "Content-Type": "application/json"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        for body in warmup:
            _post(http, body)
        started = time.perf_counter()
        accepted = sum(_post(http, body) for body in bodies)
        return accepted / (time.perf_counter() - started)


def steady(
    base_url: str,
    key: str,
    server_pid: int,
    bodies: list[bytes],
    warmup: list[bytes],
    batches_per_second: float,
    sample_every: int,
) -> SteadyRun:
    """Post `bodies` on a fixed schedule, sampling the visibility of every k-th batch."""
    headers = {"X-API-KEY": key, "Content-Type": "application/json"}
    samples = {n: root_execution(bodies[n]) for n in range(0, len(bodies), sample_every)}
    pending: collections.deque[tuple[str, float]] = collections.deque()
    pending_ready = threading.Condition()
    lags: list[float] = []
    round_trips: list[float] = []
    failures: list[BaseException] = []
    posting_done = threading.Event()
    acknowledged = [0]
    slip = [0.0]

    def poster(http: httpx.Client, started: float) -> None:
        try:
            for n, body in enumerate(bodies):
                due = started + n / batches_per_second
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                else:
                    slip[0] = max(slip[0], -wait)
                acknowledged[0] += _post(http, body)
                answered = time.perf_counter()
                execution = samples.get(n)
                if execution is not None:
                    with pending_ready:
                        pending.append((execution, answered))
                        pending_ready.notify()
        except BaseException as error:
            failures.append(error)
        finally:
            posting_done.set()
            with pending_ready:
                pending_ready.notify()

    def poller(http: httpx.Client) -> None:
        try:
            while True:
                with pending_ready:
                    while not pending and not posting_done.is_set():
                        pending_ready.wait(0.1)
                    if not pending:
                        return
                    execution, answered = pending[0]
                sent = time.perf_counter()
                response = http.get(f"/v1/workflows/executions/{execution}/status")
                received = time.perf_counter()
                round_trips.append(received - sent)
                if response.status_code == 200:
                    lags.append(received - answered)
                    with pending_ready:
                        pending.popleft()
                elif response.status_code == 404:
                    time.sleep(POLL_SECONDS)
                else:
                    raise RuntimeError(f"status answered {response.status_code}: {response.text}")
        except BaseException as error:
            failures.append(error)

    with (
        httpx.Client(base_url=base_url, headers=headers, timeout=120) as post_http,
        httpx.Client(base_url=base_url, headers=headers, timeout=120) as poll_http,
    ):
        for body in warmup:
            _post(post_http, body)
        _wait_until_caught_up(post_http)
        cpu_started = process_cpu_seconds(server_pid)
        started = time.perf_counter()
        threads = [
            threading.Thread(target=poller, args=(poll_http,), daemon=True),
            threading.Thread(target=poster, args=(post_http, started), daemon=True),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        server_cpu = process_cpu_seconds(server_pid) - cpu_started
        if failures:
            raise RuntimeError("the steady-rate run failed") from failures[0]
        readyz = _wait_until_caught_up(post_http)
    return SteadyRun(
        target_events_per_second=batches_per_second * 100,
        events_count=acknowledged[0],
        seconds=seconds,
        max_slip_seconds=slip[0],
        client_lag=Samples(lags),
        poll_round_trip=Samples(round_trips),
        server_cpu_seconds=server_cpu,
        readyz=readyz,
    )


def _wait_until_caught_up(http: httpx.Client) -> dict[str, Any]:
    """/readyz once projections have reached the log's head."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        answer: dict[str, Any] = orjson.loads(http.get("/readyz", headers=ADMIN_HEADERS).content)
        if answer["projections"]["behind_count"] == 0 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)
