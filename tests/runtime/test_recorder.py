"""A run's recorder keeps what a failed append took, and drops only what the log refuses."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from domain.log.ledger import Ledger
from runtime.recorder import Event, EventRecorder
from tests.events import execution


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})


def test_a_failed_append_keeps_the_events_for_the_next_flush(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    streamed: list[list[Event]] = []
    recorder = EventRecorder(ledger, uuid.uuid4(), [streamed.append])
    events = execution(node_count=1)
    append = ledger.append

    def busy(*_: object, **__: object) -> None:
        raise OSError("the log is busy")

    monkeypatch.setattr(ledger, "append", busy)
    with pytest.raises(OSError, match="is busy"):
        recorder.emit(events[0])  # a listener makes every emit flush
    assert streamed == []  # nothing stored, nothing streamed
    monkeypatch.setattr(ledger, "append", append)
    recorder.emit(events[1])
    assert [e["id"] for e in ledger_events(ledger)] == [events[0]["id"], events[1]["id"]]
    assert streamed == [[events[0], events[1]]]


@pytest.mark.parametrize(
    ("levels", "field", "reason"),
    [
        pytest.param(200, "body", "nests objects and arrays deeper than", id="invalid"),
        # orjson writes at most 254 levels: such an event fails before validation could name it.
        pytest.param(300, "event", "cannot be written as JSON", id="not-even-json"),
    ],
)
def test_an_event_the_log_refuses_is_dropped_and_named_the_rest_stored(
    ledger: Ledger, levels: int, field: str, reason: str
) -> None:
    recorder = EventRecorder(ledger, uuid.uuid4(), [])
    events = execution(node_count=1)
    events[1]["body"]["outputs"] = {"deep": _deep(levels)}
    for event in events:
        recorder.emit(event)
    assert recorder.refusal(events[1]["id"])  # known before the flush
    assert recorder.refusal(events[0]["id"]) is None
    recorder.flush()
    stored = [e["id"] for e in ledger_events(ledger)]
    assert stored == [e["id"] for n, e in enumerate(events) if n != 1]
    [(event, errors)] = recorder.refused
    assert event["id"] == events[1]["id"]
    assert [e.field for e in errors] == [field]
    assert reason in errors[0].reason


def ledger_events(ledger: Ledger) -> list[dict[str, Any]]:
    return [orjson.loads(e.raw) for e in ledger.read(after=0, limit=100)]
