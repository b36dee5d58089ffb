"""The event log's contract, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
import pytest
from eventsourcing.persistence import PersistenceError, StoredEvent

from domain.batch import split_body, validate_batch
from domain.envelope import Envelope
from domain.log import decode_record, event_stream_id
from domain.log.ledger import POSTGRES_MODULE, Ledger
from tests.events import execution

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


def _envelopes(events: list[dict[str, object]]) -> list[Envelope]:
    return validate_batch(split_body(orjson.dumps(events), max_events=10_000)).envelopes


def _all(ledger: Ledger) -> list[tuple[int, bytes]]:
    return [(e.position, e.raw) for e in ledger.read(after=0, limit=100_000)]


def test_appended_events_are_read_back_in_order_byte_for_byte(ledger: Ledger) -> None:
    workspace = uuid.uuid4()
    envelopes = _envelopes(execution(node_count=3))
    result = ledger.append(workspace, envelopes, NOW)
    assert result.accepted_count == len(envelopes)
    assert result.duplicate_count == 0
    logged = ledger.read(after=0, limit=1000)
    assert [e.raw for e in logged] == [e.raw for e in envelopes]
    assert [e.position for e in logged] == result.positions
    assert all(a < b for a, b in zip(result.positions, result.positions[1:], strict=False))  # type: ignore[operator]
    assert {e.execution_id for e in logged} == {envelopes[0].execution_id}
    assert {e.workspace_id for e in logged} == {workspace}
    assert [e.name for e in logged] == [e.name.value for e in envelopes]
    assert logged[0].received_at == NOW
    assert result.log_position == max(p for p in result.positions if p is not None)


def test_a_redelivered_batch_changes_nothing(ledger: Ledger) -> None:
    workspace = uuid.uuid4()
    envelopes = _envelopes(execution(node_count=2))
    first = ledger.append(workspace, envelopes, NOW)
    before = _all(ledger)
    again = ledger.append(workspace, envelopes, NOW)
    assert again.positions == [None] * len(envelopes)
    assert again.duplicate_count == len(envelopes)
    assert again.log_position == first.log_position
    assert _all(ledger) == before


def test_a_partly_new_batch_stores_only_the_new_events(ledger: Ledger) -> None:
    workspace = uuid.uuid4()
    envelopes = _envelopes(execution(node_count=2))
    ledger.append(workspace, envelopes[:3], NOW)
    result = ledger.append(workspace, envelopes, NOW)
    assert [p is None for p in result.positions] == [True] * 3 + [False] * (len(envelopes) - 3)
    assert Counter(raw for _, raw in _all(ledger)) == Counter(e.raw for e in envelopes)


def test_the_same_event_id_in_two_workspaces_is_two_events(ledger: Ledger) -> None:
    envelopes = _envelopes(execution(node_count=1))
    first, second = uuid.uuid4(), uuid.uuid4()
    assert ledger.append(first, envelopes, NOW).accepted_count == len(envelopes)
    assert ledger.append(second, envelopes, NOW).accepted_count == len(envelopes)
    logged = ledger.read(after=0, limit=1000)
    assert Counter(e.workspace_id for e in logged) == {
        first: len(envelopes),
        second: len(envelopes),
    }


def test_reading_resumes_exactly_after_any_position(ledger: Ledger) -> None:
    workspace = uuid.uuid4()
    for _ in range(3):
        ledger.append(workspace, _envelopes(execution(node_count=2)), NOW)
    everything = ledger.read(after=0, limit=1000)
    for cut in range(len(everything)):
        rest = ledger.read(after=everything[cut].position, limit=1000)
        assert rest == everything[cut + 1 :]
    pages, position = [], 0
    while page := ledger.read(after=position, limit=4):
        pages.extend(page)
        position = page[-1].position
    assert pages == everything
    assert ledger.max_position() == everything[-1].position


def test_an_empty_log_reads_as_nothing_at_position_zero(ledger: Ledger) -> None:
    assert ledger.read(after=0, limit=10) == []
    assert ledger.max_position() == 0


def test_a_stored_event_keeps_the_senders_bytes_behind_its_header(ledger: Ledger) -> None:
    workspace = uuid.uuid4()
    envelope = _envelopes(execution(node_count=0))[0]
    ledger.append(workspace, [envelope], NOW)
    stored = ledger.recorder.select_events(event_stream_id(workspace, envelope.event_id))
    assert len(stored) == 1
    assert stored[0].topic == envelope.name.value
    header, raw = decode_record(stored[0].state)
    assert raw == envelope.raw
    assert header == {
        "workspace_id": str(workspace),
        "execution_id": str(envelope.execution_id),
        "received_at": NOW.isoformat(),
    }


def _poison(ledger: Ledger) -> StoredEvent:
    # Each backend refuses a different impossible value inside the insert transaction.
    if ledger.persistence_module == POSTGRES_MODULE:
        return StoredEvent(uuid.uuid4(), 1, "bad\x00topic", b"x")
    return StoredEvent(uuid.uuid4(), 1, "topic", object())  # type: ignore[arg-type]


def test_a_failed_append_stores_nothing_of_its_batch(ledger: Ledger) -> None:
    good = [
        StoredEvent(uuid.uuid4(), 1, "workflow.execution.initiated", b"{}\n{}") for _ in range(2)
    ]
    with pytest.raises((PersistenceError, ValueError, TypeError)):
        ledger._deduping.insert_new_events([*good, _poison(ledger)])
    assert ledger.recorder.max_notification_id() in (None, 0)
    assert all(not ledger.recorder.select_events(e.originator_id) for e in good)


def test_concurrent_overlapping_appends_store_each_event_once(ledger: Ledger) -> None:
    workspace = uuid.uuid4()
    envelopes = _envelopes([event for _ in range(10) for event in execution(node_count=2)])
    accepted: list[int] = []
    errors: list[BaseException] = []

    def sender(offset: int) -> None:
        # Each sender posts an overlapping window, in batches, twice.
        window: Sequence[Envelope] = envelopes[offset:] + envelopes[:offset]
        try:
            for _ in range(2):
                for start in range(0, len(window), 7):
                    accepted.append(
                        ledger.append(workspace, window[start : start + 7], NOW).accepted_count
                    )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=sender, args=(n * 13,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    raws = Counter(raw for _, raw in _all(ledger))
    assert raws == Counter(e.raw for e in envelopes)
    assert sum(accepted) == len(envelopes)


def test_one_insert_holding_the_same_event_twice_stores_it_once(ledger: Ledger) -> None:
    # A group commit can put two requests carrying the same event into one insert.
    event = StoredEvent(uuid.uuid4(), 1, "workflow.execution.initiated", b"{}\n{}")
    positions = ledger._deduping.insert_new_events([event, event])
    assert positions[0] is not None
    assert positions[1] is None
