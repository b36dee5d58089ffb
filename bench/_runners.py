"""The timed loops: straight into the log, through the use case, and through HTTP.

Every loop is handed the same pre-serialized request bodies (or the envelopes validated from
them, for the raw append), first runs a few warm-up batches of other events (connections,
prepared statements, first-request imports), and then times only the acknowledged work.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
from eventsourcing.domain import Aggregate

from api.settings import Settings
from bench._ceiling import running_ceiling
from bench._events import root_execution
from bench._server import running_server
from bench._stores import Env, open_log
from domain.envelope import Envelope
from domain.ingest import ingest
from domain.log.port import AppendResult, LoggedEvent

EVENTS_PATH = "/monitoring/v1/events"
WORKSPACE = "bench"
VISIBLE_TIMEOUT_SECONDS = 300.0
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Timing:
    """One measurement: what was acknowledged, in how long, at what CPU cost."""

    acknowledged_count: int
    seconds: float
    bench_cpu_seconds: float  # this process: the HTTP clients, or the in-process ingest
    server_cpu_seconds: float | None = None  # the `runledger serve` child, for HTTP only
    # From the first request to the last batch being visible in status (projector on only).
    visible_seconds: float | None = None

    @property
    def events_per_second(self) -> float:
        """Acknowledged events per second of wall time."""
        return self.acknowledged_count / self.seconds

    @property
    def visible_events_per_second(self) -> float | None:
        """Events per second acknowledged and visible in status, when that was measured."""
        if self.visible_seconds is None:
            return None
        return self.acknowledged_count / self.visible_seconds


@dataclass
class _Stopwatch:
    seconds: float = 0.0
    cpu_seconds: float = 0.0


@contextmanager
def _frozen_heap() -> Iterator[None]:
    # The benchmark holds every event of a case in memory; frozen, those objects are not
    # rescanned by each full garbage collection the timed code triggers, which a server
    # holding one request at a time would not pay either. Collect first, outside the timer.
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def best_seconds(work: Callable[[], object], repetitions: int) -> float:
    """The fastest of `repetitions` timed calls of `work`, each with the heap frozen."""
    seconds = []
    for _ in range(repetitions):
        with _frozen_heap():
            started = time.perf_counter()
            work()
            seconds.append(time.perf_counter() - started)
    return min(seconds)


@contextmanager
def _stopwatch() -> Iterator[_Stopwatch]:
    # process_time covers every thread of this process: the client threads, or the in-process
    # log writer. It does not cover PostgreSQL's own backend process.
    watch = _Stopwatch()
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        yield watch
    finally:
        watch.seconds = time.perf_counter() - started
        watch.cpu_seconds = time.process_time() - cpu_started


class EnvelopeRecorder:
    """An event log that only keeps what it is given: the envelopes ingest validated."""

    def __init__(self) -> None:
        self.batches: list[list[Envelope]] = []

    def append(
        self,
        workspace_id: UUID,
        envelopes: Sequence[Envelope],
        received_at: datetime,
        *,
        also_save: Sequence[Aggregate] = (),
    ) -> AppendResult:
        self.batches.append(list(envelopes))
        return AppendResult(positions=list(range(1, len(envelopes) + 1)), log_position=0)

    def read(self, after: int, limit: int) -> list[LoggedEvent]:
        return []

    def max_position(self) -> int:
        return 0


def _validated(
    workspace_id: UUID, bodies: Sequence[bytes], max_events: int
) -> list[list[Envelope]]:
    # The use case itself parses and validates, into a log that keeps the envelopes, so the raw
    # path appends exactly what ingest would, and follows the use case if its parsing changes.
    recorder = EnvelopeRecorder()
    for body in bodies:
        ingest(recorder, workspace_id, body, max_events=max_events, received_at=datetime.now(UTC))
    return recorder.batches


def time_raw_append(
    env: Env, workspace_id: UUID, timed: Sequence[bytes], warmup: Sequence[bytes]
) -> Timing:
    """`Ledger.append` of the bodies' envelopes, validated untimed: the storage ceiling."""
    max_events = Settings.from_env(env).max_batch_events
    return time_append(
        env,
        workspace_id,
        _validated(workspace_id, timed, max_events),
        _validated(workspace_id, warmup, max_events),
    )


def time_append(
    env: Env,
    workspace_id: UUID,
    timed: Sequence[Sequence[Envelope]],
    warmup: Sequence[Sequence[Envelope]],
) -> Timing:
    """`Ledger.append` of each batch into the log `env` names, after the warm-up batches."""
    ledger = open_log(env)
    try:
        for envelopes in warmup:
            ledger.append(workspace_id, envelopes, datetime.now(UTC))
        with _frozen_heap(), _stopwatch() as watch:
            accepted = sum(
                ledger.append(workspace_id, envelopes, datetime.now(UTC)).accepted_count
                for envelopes in timed
            )
    finally:
        ledger.close()
    return Timing(accepted, watch.seconds, watch.cpu_seconds)


def time_in_process_ingest(
    env: Env, workspace_id: UUID, timed: Sequence[bytes], warmup: Sequence[bytes]
) -> Timing:
    """`domain.ingest.ingest` on the request bodies: parse, validate, append; no HTTP."""
    max_events = Settings.from_env(env).max_batch_events
    ledger = open_log(env)

    def post(body: bytes) -> int:
        result = ingest(
            ledger, workspace_id, body, max_events=max_events, received_at=datetime.now(UTC)
        )
        return result.accepted_count

    try:
        for body in warmup:
            post(body)
        with _frozen_heap(), _stopwatch() as watch:
            accepted = sum(post(body) for body in timed)
    finally:
        ledger.close()
    return Timing(accepted, watch.seconds, watch.cpu_seconds)


def time_http_ingest(
    env: Env, timed: Sequence[bytes], warmup: Sequence[bytes], clients: int, log_path: Path
) -> Timing:
    """POSTs to a `runledger serve` child process from `clients` keep-alive httpx clients.

    With the projector on, the clock also runs on until the last batch is visible in status.
    """
    wait_visible = env.get("RUNLEDGER_PROJECTOR") != "off"
    with running_server(env, WORKSPACE, log_path) as server:
        return _drive_clients(
            server.base_url, server.api_key, timed, warmup, clients, server.pid, wait_visible
        )


def time_http_ceiling(
    timed: Sequence[bytes], warmup: Sequence[bytes], clients: int, batch_size: int, log_path: Path
) -> Timing:
    """The same POSTs to the bare constant endpoint (`bench._ceiling`): the HTTP ceiling."""
    with running_ceiling(batch_size, log_path) as server:
        return _drive_clients(server.base_url, "", timed, warmup, clients, server.pid, False)


def _drive_clients(
    base_url: str,
    key: str,
    timed: Sequence[bytes],
    warmup: Sequence[bytes],
    clients: int,
    server_pid: int,
    wait_visible: bool,
) -> Timing:
    # Each client posts every `clients`-th body, so all clients finish at about the same time.
    # The barrier starts the clock only once every client is connected and warmed up.
    barrier = threading.Barrier(clients + 1)
    accepted = [0] * clients
    # Each client's last position token: positions come as opaque tokens, which cannot be
    # compared, so the run waits for every client's last batch.
    tokens: list[str | None] = [None] * clients
    failures: list[BaseException] = []
    headers = {"X-API-KEY": key, "Content-Type": "application/json"}

    def client(index: int) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
            try:
                for body in warmup[index::clients]:
                    _post(http, body)
            except BaseException as error:
                failures.append(error)
            barrier.wait()
            if failures:
                return
            try:
                for body in timed[index::clients]:
                    count, token = _post(http, body)
                    accepted[index] += count
                    tokens[index] = token
            except BaseException as error:
                failures.append(error)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    visible_seconds = None
    with _frozen_heap():
        barrier.wait()
        server_cpu_started = process_cpu_seconds(server_pid)
        started = time.perf_counter()
        with _stopwatch() as watch:
            for thread in threads:
                thread.join()
        if wait_visible and not failures:
            _wait_visible(base_url, headers, timed, [t for t in tokens if t is not None])
            visible_seconds = time.perf_counter() - started
        server_cpu = process_cpu_seconds(server_pid) - server_cpu_started
    if failures:
        raise RuntimeError(f"{len(failures)} client(s) failed") from failures[0]
    return Timing(sum(accepted), watch.seconds, watch.cpu_seconds, server_cpu, visible_seconds)


def _wait_visible(
    base_url: str, headers: dict[str, str], timed: Sequence[bytes], tokens: Sequence[str]
) -> None:
    """Until status shows every client's last batch: read-your-writes on each client's token,
    reading the latest execution started."""
    execution = next(
        (found for body in reversed(timed) if (found := root_execution(body)) is not None), None
    )
    if execution is None:
        raise RuntimeError("no batch starts an execution whose status could be read")
    deadline = time.monotonic() + VISIBLE_TIMEOUT_SECONDS
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        for token in tokens:
            status_when_visible(http, execution, token, deadline)


def status_when_visible(
    http: httpx.Client, execution: str, token: str, deadline: float
) -> dict[str, Any]:
    """The execution's status once the log position of `token` is visible in it."""
    while True:
        # The server holds the request until the position is visible (RUNLEDGER_READ_WAIT_
        # SECONDS), then answers 503: ask again.
        response = http.get(
            f"/v1/workflows/executions/{execution}/status", params={"min_log_position": token}
        )
        if response.status_code == 200:
            status: dict[str, Any] = orjson.loads(response.content)
            return status
        if response.status_code != 503 or time.monotonic() > deadline:
            raise RuntimeError(
                f"status of the last execution answered {response.status_code}:"
                f" {response.text[:300]}"
            )


def _post(http: httpx.Client, body: bytes) -> tuple[int, str]:
    response = http.post(EVENTS_PATH, content=body)
    if response.status_code != 200:
        raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
    answer = orjson.loads(response.content)
    return answer["accepted_count"], answer["log_position"]


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat", "rb") as file:
        # The command name may hold spaces; the numeric fields start after its closing ')'.
        fields = file.read().rsplit(b")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5), i.e. 11 and 12 after the name.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
