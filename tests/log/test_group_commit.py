"""Concurrent appends share commits, and each returns only once its own events are in.

The write lock admits waiting appends in no particular order, so the one holding it may be
queued behind appends that fill a whole group (GROUP_COMMIT_EVENTS) without it. A lock that
admits threads in a chosen order makes that happen every time.
"""

from __future__ import annotations

import threading
import time
import uuid
from types import TracebackType

import orjson
import pytest

from domain.batch import split_body, validate_batch
from domain.envelope import Envelope
from domain.log import AppendResult
from domain.log import ledger as ledger_module
from domain.log.ledger import Ledger
from tests.events import execution
from tests.log.test_ledger_tail import NOW

WORKSPACE_ID = uuid.uuid4()


class InOrder:
    """A lock that admits the named threads in the order given, whatever order they ask in."""

    def __init__(self, *names: str) -> None:
        self._order = list(names)
        self._turn = threading.Condition()
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        name = threading.current_thread().name
        with self._turn:
            self._turn.wait_for(lambda: not self._order or self._order[0] == name, timeout=30)
        self._lock.acquire()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._lock.release()
        with self._turn:
            if self._order and self._order[0] == threading.current_thread().name:
                self._order.pop(0)
            self._turn.notify_all()


def _envelopes(node_count: int) -> list[Envelope]:
    events = execution(node_count=node_count)
    return validate_batch(split_body(orjson.dumps(events), max_events=10_000)).envelopes


def _wait_for_queue(ledger: Ledger, length: int) -> None:
    deadline = time.monotonic() + 10
    while len(ledger._queue) < length:
        assert time.monotonic() < deadline, "the append never queued"
        time.sleep(0.001)


def test_an_append_queued_behind_a_full_group_commits_its_own_events(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _envelopes(2), _envelopes(2)
    # Room for one of the two batches in a group, not both.
    monkeypatch.setattr(ledger_module, "GROUP_COMMIT_EVENTS", len(first) + len(second) - 1)
    monkeypatch.setattr(ledger, "_write_lock", InOrder("second", "first"))
    results: dict[str, AppendResult | BaseException] = {}

    def append(name: str, envelopes: list[Envelope]) -> None:
        try:
            results[name] = ledger.append(WORKSPACE_ID, envelopes, NOW)
        except BaseException as error:  # the test reports it below
            results[name] = error

    threads = [threading.Thread(target=append, args=("first", first), name="first")]
    threads[0].start()
    _wait_for_queue(ledger, 1)  # queued first, then held back by the lock
    threads.append(threading.Thread(target=append, args=("second", second), name="second"))
    threads[1].start()
    for thread in threads:
        thread.join(timeout=30)

    # "second" held the lock first and committed "first"'s group, then its own.
    assert not isinstance(results["first"], BaseException), results["first"]
    assert not isinstance(results["second"], BaseException), results["second"]
    assert ledger._queue == []
    first_positions, second_positions = results["first"].positions, results["second"].positions
    assert None not in first_positions
    assert None not in second_positions
    logged = ledger.read(after=0, limit=100)
    assert [e.raw for e in logged] == [e.raw for e in first + second]
    assert [e.position for e in logged] == first_positions + second_positions
