"""The ledger answers `read` from its own newest commits only when the database would answer
the same: a second ledger on the same log, which committed nothing, reads from the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from eventsourcing.domain import Aggregate, event

from api.settings import Settings
from domain.batch import split_body, validate_batch
from domain.envelope import Envelope
from domain.log import LoggedEvent
from domain.log.ledger import TAIL_RECORDS, Ledger
from tests.events import execution

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


class Note(Aggregate):
    """An aggregate saved beside received events, as the runtime saves its runs."""

    @event("Noted")
    def note(self) -> None:
        pass


def _envelopes(node_count: int) -> list[Envelope]:
    events = execution(node_count=node_count)
    return validate_batch(split_body(orjson.dumps(events), max_events=10_000)).envelopes


def _open(log_env: dict[str, str], tail_records: int = TAIL_RECORDS) -> Ledger:
    settings = Settings.from_env(log_env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Ledger(settings.log_env, tail_records=tail_records)


@pytest.fixture
def other(log_env: dict[str, str], ledger: Ledger) -> Iterator[Ledger]:
    """Another ledger on the same log: another process, as far as `ledger` can tell. It keeps
    no tail, so it reads from the database."""
    second = _open(log_env, tail_records=0)
    yield second
    second.close()


class DatabaseReads:
    """Counts the reads that reach the recorder (the database)."""

    def __init__(self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        select = ledger.recorder.select_notifications

        def counted(*args: object, **kwargs: object) -> object:
            self.count += 1
            return select(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(ledger.recorder, "select_notifications", counted)


def _every_read(ledger: Ledger) -> list[list[LoggedEvent]]:
    end = ledger.max_position()
    return [ledger.read(after, limit) for after in range(end + 2) for limit in (1, 3, 1000)]


def test_the_tail_answers_every_read_as_the_database_does(
    ledger: Ledger, other: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    envelopes, others = _envelopes(node_count=2), _envelopes(node_count=1)
    ledger.append(first, envelopes, NOW)
    note = Note()
    note.note()
    ledger.append(second, others, NOW, also_save=[note])  # two versions of one aggregate
    ledger.append(second, [], NOW, also_save=[Note()])  # records `read` skips, at the end
    database = DatabaseReads(ledger, monkeypatch)
    tail_reads = _every_read(ledger)
    assert database.count == 0
    assert tail_reads == _every_read(other)
    assert len(tail_reads[2]) == len(envelopes) + len(others)  # after 0, limit 1000


def test_reads_across_duplicates_answer_as_the_database_does(ledger: Ledger, other: Ledger) -> None:
    # PostgreSQL's ON CONFLICT DO NOTHING takes a position for each duplicate and leaves it
    # unused: a hole, so reads across it go to the database. SQLite's positions stay dense.
    workspace = uuid.uuid4()
    envelopes = _envelopes(node_count=2)
    ledger.append(workspace, envelopes[:3], NOW)
    ledger.append(workspace, envelopes, NOW)
    ledger.append(workspace, envelopes[1:], NOW)
    ledger.append(workspace, _envelopes(node_count=1), NOW)
    assert _every_read(ledger) == _every_read(other)


def test_a_record_committed_elsewhere_sends_the_read_to_the_database(
    ledger: Ledger, other: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = uuid.uuid4()
    ledger.append(workspace, _envelopes(node_count=1), NOW)
    between = other.append(workspace, _envelopes(node_count=1), NOW)
    ledger.append(workspace, _envelopes(node_count=1), NOW)
    database = DatabaseReads(ledger, monkeypatch)
    assert ledger.read(0, 1000) == other.read(0, 1000)
    assert database.count == 1
    assert ledger.read(between.log_position - 1, 1000) == other.read(between.log_position - 1, 1000)
    assert database.count == 2
    # Past the other ledger's records, its own commits answer again.
    assert ledger.read(between.log_position, 1000) == other.read(between.log_position, 1000)
    assert database.count == 2


def test_records_beyond_the_tails_capacity_are_read_from_the_database(
    log_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    small = _open(log_env, tail_records=4)
    try:
        envelopes = _envelopes(node_count=2)
        result = small.append(uuid.uuid4(), envelopes, NOW)
        database = DatabaseReads(small, monkeypatch)
        assert [e.raw for e in small.read(0, 1000)] == [e.raw for e in envelopes]
        assert database.count == 1
        newest = [p for p in result.positions if p is not None][-4:]
        assert [e.position for e in small.read(newest[0] - 1, 1000)] == newest
        assert database.count == 1
    finally:
        small.close()
