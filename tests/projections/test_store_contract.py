"""The projection contract: whatever the log's delivery history, the answers are the same.

Re-applying batches, a shuffled arrival order, a crash between a batch's data and its tracking
row, and a replay from zero into fresh tables all give identical status and detail answers,
usage and cost included.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from domain.batch import split_body, validate_batch
from domain.log.ledger import Ledger
from domain.usage import USAGE_COUNT_FIELDS
from projections.clickhouse import connect
from projections.detail import ExecutionDetails
from projections.migrations import apply_migrations
from projections.queries import ExecutionQueries
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore
from tests.events import Event, execution, node_event, workflow_event
from tests.sdk_workflows import SDK_WORKFLOWS, root_execution

WORKSPACE = uuid.uuid4()
# Every MlModelUsage count a total carries, None when no span reported it.
NO_COUNTS = dict.fromkeys(USAGE_COUNT_FIELDS)
NOW = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


class Crash(Exception):
    """Stands for the process dying."""


class CrashBeforeTracking(ClickHouseStore):
    """Writes a batch's data, then dies before its tracking row, every time."""

    def _track(self, position: int) -> None:
        raise Crash


def _usage(model: str, tokens: int, cost: float) -> dict[str, Any]:
    usage = {"input_token_count": tokens, "output_token_count": tokens // 2}
    return {
        "usage": [{"ml_model_name": model, "ml_model_usage": usage}],
        "cost": [{"value": cost, "unit": "USD"}],
    }


def _runs() -> tuple[list[Event], list[uuid.UUID]]:
    """Real SDK runs plus a hand-made execution with late and contradictory events and usage."""
    events: list[Event] = []
    roots = []
    for name in ("linear", "failing", "nested", "map"):
        run = SDK_WORKFLOWS[name]()
        events += run
        roots.append(root_execution(run))
    odd = execution(node_count=3)
    ex = odd[0]["span_id"]
    # Two nodes report usage; the first reports again later, contradicting itself.
    odd[2]["body"]["usage_result"] = _usage("gpt-4o", 10, 0.0012)
    odd[4]["body"]["usage_result"] = _usage("claude-sonnet-4", 7, 0.0008)
    late_report = node_event("rejected", ex, odd[2]["span_id"], 4000)
    late_report["body"]["usage_result"] = _usage("gpt-4o", 99, 1.0)
    odd += [
        workflow_event("rejected", ex, 5000),
        node_event("fulfilled", ex, str(uuid.uuid4()), 6000),
        late_report,
    ]
    events += odd
    roots.append(uuid.UUID(ex))
    return events, roots


@pytest.fixture(scope="module")
def runs() -> tuple[list[Event], list[uuid.UUID]]:
    return _runs()


def _ledger(tmp_path: Path, events: list[Event], batch_size: int) -> Ledger:
    ledger = Ledger({"SQLITE_DBNAME": str(tmp_path / f"log-{uuid.uuid4().hex[:6]}.sqlite")})
    for start in range(0, len(events), batch_size):
        body = orjson.dumps(events[start : start + batch_size])
        ledger.append(WORKSPACE, validate_batch(split_body(body, max_events=10_000)).envelopes, NOW)
    return ledger


@pytest.fixture
def databases(clickhouse_url: str) -> Iterator[list[Client]]:
    """Fresh, migrated databases on demand; dropped afterwards."""
    clients: list[Client] = []

    yield clients
    for client in clients:
        client.command("DROP DATABASE IF EXISTS {d:Identifier}", parameters={"d": client.database})
        client.close()


def _database(clickhouse_url: str, clients: list[Client]) -> Client:
    client = connect(clickhouse_url, f"rl_contract_{uuid.uuid4().hex[:10]}")
    apply_migrations(client)
    clients.append(client)
    return client


def _answers(client: Client, roots: list[uuid.UUID], ordered: bool = True) -> dict[str, Any]:
    """Every status and every detail page (walked with a small span_limit) of the executions."""
    queries = ExecutionQueries(client)
    details = ExecutionDetails(client)
    answers: dict[str, Any] = {}
    for root in roots:
        status = queries.status(WORKSPACE, root).summary
        assert status is not None
        spans: list[Any] = []
        usage_totals = []
        headers = []
        cursor = None
        while True:
            page = details.page(WORKSPACE, root, cursor, limit=7)
            usage_totals.append(page.usage_total)
            # The root span heads every page, wherever the keyset order puts it.
            assert page.root is not None
            headers.append((page.root.span_id, page.root.status, page.root.inputs, page.state))
            spans += [
                (
                    s.span_id,
                    s.kind,
                    s.parent_span_id,
                    s.label,
                    s.start_ts,
                    s.end_ts,
                    s.status,
                    s.inputs,
                    s.outputs,
                    s.error,
                    sorted(s.events),
                    s.usage_result,
                )
                for s in page.spans
            ]
            if not page.has_more:
                break
            cursor = page.spans[-1].span_id
        answers[str(root)] = {
            "status": (
                status.status,
                status.outputs,
                status.error,
                status.started_at,
                status.has_conflicting_outcomes,
            ),
            "spans": spans if ordered else sorted(spans, key=lambda s: str(s[0])),
            "usage": usage_totals[0],
            "root": headers[0],
        }
        assert usage_totals == usage_totals[:1] * len(usage_totals)  # the same on every page
        assert headers == headers[:1] * len(headers)
        assert headers[0][0] == root
    return answers


def test_reapplying_every_batch_changes_no_answer(
    tmp_path: Path, runs: Any, clickhouse_url: str, databases: list[Client]
) -> None:
    events, roots = runs
    ledger = _ledger(tmp_path, events, batch_size=37)
    client = _database(clickhouse_url, databases)
    ProjectionRunner(ledger, ClickHouseStore(client), batch_size=50).catch_up()
    once = _answers(client, roots)
    # A second store (an empty cache, as after a restart) applies everything again from zero.
    again = ClickHouseStore(client)
    position = 0
    while batch := ledger.read(after=position, limit=50):
        again.apply(batch)
        position = batch[-1].position
    assert _answers(client, roots) == once
    assert once[str(roots[-1])]["status"][0] == "FULFILLED"
    assert once[str(roots[-1])]["status"][4] is True  # the contradictory rejection is flagged
    assert once[str(roots[-1])]["usage"] == {
        "usage": [
            {"ml_model_name": name, "ml_model_usage": {**NO_COUNTS, **tokens}}
            for name, tokens in (
                ("claude-sonnet-4", {"input_token_count": 7, "output_token_count": 3}),
                ("gpt-4o", {"input_token_count": 10, "output_token_count": 5}),
            )
        ],
        "cost": [{"value": 0.0012 + 0.0008, "unit": "USD"}],
    }


def test_a_shuffled_arrival_order_gives_the_same_answers(
    tmp_path: Path, runs: Any, clickhouse_url: str, databases: list[Client]
) -> None:
    events, roots = runs
    shuffled = events[:]
    random.Random(11).shuffle(shuffled)
    in_order, out_of_order = (
        _database(clickhouse_url, databases),
        _database(clickhouse_url, databases),
    )
    ProjectionRunner(
        _ledger(tmp_path, events, 25), ClickHouseStore(in_order), batch_size=40
    ).catch_up()
    ProjectionRunner(
        _ledger(tmp_path, shuffled, 25), ClickHouseStore(out_of_order), batch_size=40
    ).catch_up()
    # The keyset order follows arrival by design; everything else must be identical.
    assert _answers(out_of_order, roots, ordered=False) == _answers(in_order, roots, ordered=False)


def test_a_crash_between_data_and_tracking_changes_no_answer(
    tmp_path: Path, runs: Any, clickhouse_url: str, databases: list[Client]
) -> None:
    events, roots = runs
    ledger = _ledger(tmp_path, events, batch_size=30)
    clean, crashed = _database(clickhouse_url, databases), _database(clickhouse_url, databases)
    ProjectionRunner(ledger, ClickHouseStore(clean), batch_size=60).catch_up()

    ProjectionRunner(ledger, ClickHouseStore(crashed), batch_size=60).run_once()  # one clean batch
    tracked = ClickHouseStore(crashed).position()
    crashing = ProjectionRunner(ledger, CrashBeforeTracking(crashed), batch_size=60)
    with pytest.raises(Crash):
        crashing.run_once()
    # Readers in the process saw the batch as soon as its data was in, before its tracking row.
    assert crashing.visible_position == ledger.read(after=tracked, limit=60)[-1].position
    # The second batch's data is in, its tracking row is not: a restart resumes before it.
    assert ClickHouseStore(crashed).position() == tracked
    resumed = ProjectionRunner(ledger, ClickHouseStore(crashed), batch_size=60)
    assert resumed.visible_position == tracked
    resumed.catch_up()
    assert _answers(crashed, roots) == _answers(clean, roots)


def test_a_replay_from_zero_into_fresh_tables_gives_the_same_answers(
    tmp_path: Path, runs: Any, clickhouse_url: str, databases: list[Client]
) -> None:
    events, roots = runs
    ledger = _ledger(tmp_path, events, batch_size=100)
    first, replayed = _database(clickhouse_url, databases), _database(clickhouse_url, databases)
    ProjectionRunner(ledger, ClickHouseStore(first), batch_size=17).catch_up()
    ProjectionRunner(ledger, ClickHouseStore(replayed), batch_size=5000).catch_up()
    assert _answers(replayed, roots) == _answers(first, roots)
    assert ClickHouseStore(replayed).position() == ledger.max_position()
