"""Ingest through SIGKILL after SIGKILL: no acknowledged event is lost or doubled, no half batch.

test_crash_recovery.py kills the server once and checks the log. Here four clients keep posting
while `runledger serve` is killed at random moments and restarted on the same log, cycle after
cycle; the clients resend some of the batches a kill cut off, as Vellum's at-least-once clients
do, and drop the others. Then, after the last restart: every acknowledged event is in the log
exactly once, every batch is in it whole or not at all, the answers' counts say so too,
acknowledged executions read FULFILLED, and `runledger verify` finds 0 differences.

Environment:

- `RUNLEDGER_CRASH_CYCLES=<n>`: kill-and-restart cycles per backend (default 3, a few seconds
  each); raise it for a soak run, e.g. `RUNLEDGER_CRASH_CYCLES=50 pytest
  tests/api/test_crash_cycles.py`.
- `RUNLEDGER_CRASH_SEED=<int>`: the seed of the kill moments, batch shapes and resend choices
  (random by default). Every assertion message names it; setting it replays those choices.
  Thread timing is not replayable, so a replay reproduces the schedule, not the interleaving:
  run it a few times.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.app import open_ledger
from api.settings import Settings
from tests.events import Event, execution
from tests.servers import ServerProcess, create_key

pytestmark = pytest.mark.slow

CLIENT_COUNT = 4
DEFAULT_CYCLES = 3
# A kill before this incarnation acknowledged anything would test its startup, not ingest.
MIN_ACKS_BEFORE_KILL = 3
MAX_ACKS_BEFORE_KILL = 40
MAX_EXTRA_DELAY_SECONDS = 0.3
ACK_DEADLINE_SECONDS = 60.0
STATUS_SAMPLE_COUNT = 20


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    value = int(raw)
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return value


@dataclass(frozen=True)
class Attempt:
    """One POST of a batch and how it ended; `status` is None when no HTTP answer came back."""

    event_ids: tuple[str, ...]
    execution_ids: tuple[str, ...]
    resent: bool
    status: int | None
    # The answer's body, or the transport error.
    answer: str
    # False when the connection was refused: the server never saw the request.
    reached: bool = True


class Attempts:
    """Every attempt of every client, shared by the client threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: list[Attempt] = []

    def add(self, attempt: Attempt) -> None:
        with self._lock:
            self._attempts.append(attempt)

    def acknowledged_count(self) -> int:
        with self._lock:
            return sum(1 for a in self._attempts if a.status == 200)

    def all(self) -> list[Attempt]:
        with self._lock:
            return list(self._attempts)


def _batch(rng: random.Random) -> list[Event]:
    """One to three complete executions: batches of 2 to 30 events that span executions."""
    return [event for _ in range(rng.randint(1, 3)) for event in execution(rng.randint(0, 4))]


def _client(base_url: str, key: str, seed: int, attempts: Attempts, stop: threading.Event) -> None:
    """Post batches until told to stop, through kills: a transport error means the server is
    gone or starting, so pause, then resend the cut-off batch or drop it, at random."""
    rng = random.Random(seed)
    pending: list[Event] | None = None
    with httpx.Client(base_url=base_url, headers={"X-API-KEY": key}, timeout=60) as http:
        while not stop.is_set():
            resent = pending is not None
            batch = pending if pending is not None else _batch(rng)
            pending = None
            event_ids = tuple(e["id"] for e in batch)
            execution_ids = tuple(
                e["span_id"] for e in batch if e["name"] == "workflow.execution.initiated"
            )
            try:
                response = http.post("/monitoring/v1/events", content=orjson.dumps(batch))
            except httpx.TransportError as error:
                reached = not isinstance(error, httpx.ConnectError)
                attempts.add(Attempt(event_ids, execution_ids, resent, None, repr(error), reached))
                if rng.random() < 0.5:
                    pending = batch
                time.sleep(0.05)
                continue
            attempts.add(
                Attempt(event_ids, execution_ids, resent, response.status_code, response.text)
            )


def _wait_for_acks(attempts: Attempts, target: int, replay: str) -> None:
    deadline = time.monotonic() + ACK_DEADLINE_SECONDS
    while attempts.acknowledged_count() < target:
        assert time.monotonic() < deadline, (
            f"fewer than {target} batches acknowledged after {ACK_DEADLINE_SECONDS:g}s; {replay}"
        )
        time.sleep(0.01)


def _count_problems(attempt: Attempt, answer: dict[str, Any]) -> list[str]:
    """What is wrong with an acknowledgement's counts, given what the client sent."""
    size = len(attempt.event_ids)
    accepted, duplicates = answer["accepted_count"], answer["duplicate_count"]
    problems = []
    if answer["count"] != size or accepted + duplicates != size:
        problems.append(f"counts do not add up to {size}: {answer}")
    # Fresh ids are all new; a resend finds an earlier attempt stored whole or not at all.
    allowed = {0, size} if attempt.resent else {size}
    if accepted not in allowed:
        problems.append(f"accepted {accepted} of {size} (resent: {attempt.resent}): {answer}")
    return problems


def _logged_ids(env: dict[str, str]) -> Counter[str]:
    """How many times each event id is in the log, read directly, not through the server."""
    ledger = open_ledger(Settings.from_env(env))
    counts: Counter[str] = Counter()
    try:
        position = 0
        while events := ledger.read(after=position, limit=5000):
            counts.update(orjson.loads(e.raw)["id"] for e in events)
            position = events[-1].position
    finally:
        ledger.close()
    return counts


def _assert_log_holds_each_acknowledged_batch_once(
    done: list[Attempt], logged: Counter[str], replay: str
) -> None:
    acknowledged = [a for a in done if a.status == 200]
    # A kill cuts connections; it never makes a running server answer with an error.
    refused = [a for a in done if a.status not in (None, 200)]
    assert refused == [], f"{refused[:3]}; {replay}"
    count_problems = [p for a in acknowledged for p in _count_problems(a, orjson.loads(a.answer))]
    assert count_problems == [], f"{count_problems[:5]}; {replay}"
    doubled = {event_id: n for event_id, n in logged.items() if n > 1}
    assert doubled == {}, f"events stored more than once: {list(doubled.items())[:5]}; {replay}"
    lost = [i for a in acknowledged for i in a.event_ids if i not in logged]
    assert lost == [], f"{len(lost)} acknowledged events not in the log: {lost[:5]}; {replay}"
    halves = [
        f"{stored} of {len(a.event_ids)} events of {a}"
        for a in done
        if 0 < (stored := sum(i in logged for i in a.event_ids)) < len(a.event_ids)
    ]
    assert halves == [], f"half-stored batches: {halves[:3]}; {replay}"


def _assert_statuses_read_fulfilled(
    server: ServerProcess, key: str, execution_ids: list[str], replay: str
) -> None:
    # A batch acknowledged now is after every earlier one, so its position (an opaque token,
    # passed back verbatim) covers them all.
    with httpx.Client(base_url=server.base_url, headers={"X-API-KEY": key}, timeout=60) as http:
        probe = http.post("/monitoring/v1/events", content=orjson.dumps(execution(node_count=1)))
        assert probe.status_code == 200, f"{probe.text}; {replay}"
        token = probe.json()["log_position"]
        for execution_id in execution_ids:
            response = http.get(
                f"/v1/workflows/executions/{execution_id}/status",
                params={"min_log_position": token},
            )
            assert response.status_code == 200, f"{execution_id}: {response.text}; {replay}"
            body = response.json()
            assert (body["execution_id"], body["status"]) == (execution_id, "FULFILLED"), (
                f"{body}; {replay}"
            )


def _assert_verify_finds_no_difference(server: ServerProcess, replay: str) -> None:
    # The data folder's server.json names the running server: verify asks it.
    verified = subprocess.run(
        [sys.executable, "-m", "runledger", "verify"],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = f"{verified.stdout[-2000:]}{verified.stderr[-2000:]}"
    assert verified.returncode == 0, f"verify exited {verified.returncode}: {output}; {replay}"
    assert "0 differences" in verified.stdout, f"{output}; {replay}"


def test_acknowledged_events_survive_repeated_sigkills_exactly_once(
    log_env: dict[str, str], tmp_path: Path
) -> None:
    cycles = _env_int("RUNLEDGER_CRASH_CYCLES", DEFAULT_CYCLES)
    seed = _env_int("RUNLEDGER_CRASH_SEED", random.SystemRandom().randrange(2**32))
    replay = (
        f"replay with RUNLEDGER_CRASH_SEED={seed} RUNLEDGER_CRASH_CYCLES={cycles} "
        f"(server log: {tmp_path / 'server.log'})"
    )
    print(replay)
    rng = random.Random(seed)
    # A data folder of its own on PostgreSQL too, so that verify finds this server and no other.
    env = {"RUNLEDGER_DATA_DIR": str(tmp_path / "data"), **log_env}
    key = create_key(env)
    server = ServerProcess(env, tmp_path / "server.log")
    attempts = Attempts()
    stop = threading.Event()
    clients = [
        threading.Thread(
            target=_client, args=(server.base_url, key, rng.randrange(2**32), attempts, stop)
        )
        for _ in range(CLIENT_COUNT)
    ]
    server.start()
    try:
        try:
            for thread in clients:
                thread.start()
            for _ in range(cycles):
                target = attempts.acknowledged_count() + rng.randint(
                    MIN_ACKS_BEFORE_KILL, MAX_ACKS_BEFORE_KILL
                )
                _wait_for_acks(attempts, target, replay)
                time.sleep(rng.uniform(0, MAX_EXTRA_DELAY_SECONDS))
                server.kill()
                server.start()  # on the same log, while the clients keep trying
            # The last incarnation takes events too, resends of what the last kill cut off.
            _wait_for_acks(attempts, attempts.acknowledged_count() + MIN_ACKS_BEFORE_KILL, replay)
        finally:
            stop.set()
            for thread in clients:
                thread.join(timeout=120)
        done = attempts.all()
        logged = _logged_ids(env)
        _assert_log_holds_each_acknowledged_batch_once(done, logged, replay)
        executions = sorted({e for a in done if a.status == 200 for e in a.execution_ids})
        sample = rng.sample(executions, k=min(STATUS_SAMPLE_COUNT, len(executions)))
        _assert_statuses_read_fulfilled(server, key, sample, replay)
        _assert_verify_finds_no_difference(server, replay)
    finally:
        # Also after a start that timed out: its process may still be coming up.
        if server.process is not None and server.process.poll() is None:
            server.stop()
    cut_off = [a for a in done if a.status is None and a.reached]
    print(
        f"{cycles} cycles: {sum(a.status == 200 for a in done)} batches acknowledged "
        f"({sum(a.resent and a.status == 200 for a in done)} of them resends); "
        f"{len(cut_off)} cut off in flight, "
        f"{sum(a.event_ids[0] in logged for a in cut_off)} of which were stored anyway; "
        f"{len(logged)} events in the log"
    )
