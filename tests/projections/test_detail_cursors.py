"""A reader answers a walk's next cursor from the page it served, and only for that execution;
with a second client it reads a page's header beside its spans, and the pages are the same."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from domain.batch import split_body, validate_batch
from domain.errors import ExecutionNotFound, InvalidCursor
from domain.log import LoggedEvent
from domain.log.ledger import Ledger
from projections.clickhouse import connect
from projections.detail import DetailPage, ExecutionDetails
from projections.migrations import apply_migrations
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore
from tests.events import execution

WORKSPACE = uuid.uuid4()
NOW = datetime(2026, 12, 3, 23, 0, tzinfo=UTC)


class CountingClient:
    """The real client, counting the statements that find a cursor's position."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.position_reads = 0

    def query(self, query: str, *args: Any, **kwargs: Any) -> Any:
        if "AS span_position" in query and "FROM events" in query:
            self.position_reads += 1
        return self._client.query(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def projected(clickhouse: Client, tmp_path: Path) -> list[uuid.UUID]:
    """Two executions of 30 nodes each, and one of 3 whose first event is a node's (its root
    span is not at its first position), projected; their ids."""
    first, second, third = execution(node_count=30), execution(node_count=30), execution(3)
    third = [third[1], third[0], *third[2:]]
    ledger = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    body = orjson.dumps(first + second + third)
    ledger.append(WORKSPACE, validate_batch(split_body(body, max_events=10_000)).envelopes, NOW)
    apply_migrations(clickhouse)
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()
    ledger.close()
    return [uuid.UUID(events[-1]["span_id"]) for events in (first, second, third)]


def _walk(details: ExecutionDetails, execution_id: uuid.UUID) -> list[list[uuid.UUID]]:
    pages, cursor = [], None
    while True:
        page = details.page(WORKSPACE, execution_id, cursor, limit=7)
        pages.append([span.span_id for span in page.spans])
        if not page.has_more:
            return pages
        cursor = page.spans[-1].span_id


def test_a_walk_finds_each_next_cursor_without_a_statement(
    clickhouse: Client, projected: list[uuid.UUID]
) -> None:
    counting = CountingClient(clickhouse)
    pages = _walk(ExecutionDetails(cast(Client, counting)), projected[0])
    assert len(pages) == 5  # 31 spans, 7 a page
    assert counting.position_reads == 0
    # The same pages as readers that look every cursor up (each a new reader).
    fresh = CountingClient(clickhouse)
    cursor, uncached = None, []
    for _ in pages:
        page = ExecutionDetails(cast(Client, fresh)).page(WORKSPACE, projected[0], cursor, 7)
        uncached.append([span.span_id for span in page.spans])
        cursor = page.spans[-1].span_id
    assert uncached == pages
    assert fresh.position_reads == len(pages) - 1


def _another_client(clickhouse: Client, clickhouse_url: str) -> Client:
    """A second client on the test's database, as the server gives a reader for headers."""
    assert clickhouse.database is not None
    return connect(clickhouse_url, clickhouse.database)


@pytest.fixture
def beside(clickhouse: Client, clickhouse_url: str) -> Iterator[ExecutionDetails]:
    """A reader as the server builds it: a second client reads each page's header."""
    header_client = _another_client(clickhouse, clickhouse_url)
    reader = ExecutionDetails(clickhouse, header_client)
    yield reader
    reader.close()
    header_client.close()


@pytest.fixture(params=["one client", "header beside spans"])
def details(request: pytest.FixtureRequest, clickhouse: Client) -> ExecutionDetails:
    """A reader with one client, and one as the server builds it."""
    if request.param == "one client":
        return ExecutionDetails(clickhouse)
    reader: ExecutionDetails = request.getfixturevalue("beside")
    return reader


def _shown(page: DetailPage) -> tuple[Any, ...]:
    return (
        page.summary,
        page.root,
        page.parent_context,
        page.state,
        page.spans,
        page.has_more,
        page.usage_total,
    )


def test_a_header_read_beside_the_spans_changes_no_page(
    clickhouse: Client, beside: ExecutionDetails, projected: list[uuid.UUID]
) -> None:
    for execution_id in projected:
        cursor = None
        while True:
            page = beside.page(WORKSPACE, execution_id, cursor, 7)
            # A reader of its own each time: one that knows neither cursor nor first position.
            alone = ExecutionDetails(clickhouse).page(WORKSPACE, execution_id, cursor, 7)
            assert _shown(page) == _shown(alone)
            assert page.root is not None
            assert page.root.span_id == execution_id
            if not page.has_more:
                break
            cursor = page.spans[-1].span_id


def test_a_remembered_cursor_is_no_cursor_of_another_execution(
    details: ExecutionDetails, projected: list[uuid.UUID]
) -> None:
    last_of_first = details.page(WORKSPACE, projected[0], None, limit=7).spans[-1].span_id
    with pytest.raises(InvalidCursor):
        details.page(WORKSPACE, projected[1], last_of_first, limit=7)
    # Another workspace does not see the execution at all; its own still takes the cursor.
    with pytest.raises(ExecutionNotFound):
        details.page(uuid.uuid4(), projected[0], last_of_first, limit=7)
    assert details.page(WORKSPACE, projected[0], last_of_first, limit=7).spans


class SignalsSpansRead(CountingClient):
    """The real client, telling when a page's spans were read."""

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.spans_read = threading.Event()

    def query(self, query: str, *args: Any, **kwargs: Any) -> Any:
        found = super().query(query, *args, **kwargs)
        if "FROM span_detail" in query:
            self.spans_read.set()
        return found


class FinishesAfterSpans(CountingClient):
    """The real client, reading the header only after the spans were read and the batch that
    finishes the execution applied in between: the race a page must survive."""

    def __init__(self, client: Client, spans: SignalsSpansRead, last: list[LoggedEvent]) -> None:
        super().__init__(client)
        self._spans, self._last = spans, last

    def query(self, query: str, *args: Any, **kwargs: Any) -> Any:
        if "FROM executions" in query and self._last:
            assert self._spans.spans_read.wait(30)
            ClickHouseStore(self._client).apply(self._last)
            self._last = []
        return super().query(query, *args, **kwargs)


def test_a_finished_header_read_after_the_spans_gets_the_spans_of_that_moment(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    events = execution(node_count=3)
    ledger = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    body = orjson.dumps(events)
    ledger.append(WORKSPACE, validate_batch(split_body(body, max_events=100)).envelopes, NOW)
    logged = ledger.read(after=0, limit=100)
    ledger.close()
    apply_migrations(clickhouse)
    ClickHouseStore(clickhouse).apply(logged[:-1])  # all but the workflow's fulfilled event
    header_client = _another_client(clickhouse, clickhouse_url)
    spans = SignalsSpansRead(clickhouse)
    header = FinishesAfterSpans(header_client, spans, logged[-1:])
    details = ExecutionDetails(cast(Client, spans), cast(Client, header))
    try:
        page = details.page(WORKSPACE, uuid.UUID(events[0]["span_id"]), None, 10)
    finally:
        details.close()
        header_client.close()
    assert spans.spans_read.is_set()
    assert page.summary.status == "FULFILLED"
    assert page.root is not None
    assert page.root.status == "FULFILLED"  # read again after the header, not as first read
