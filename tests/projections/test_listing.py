"""The list of executions (projections/listing.py) over a log of ingested executions and runs.

On both log backends: every execution is listed once, in start order either way, with what its
events and its run say; paging by cursor meets each execution once whatever the page size;
orders by a changing value, counts per group, and another workspace's executions never appear.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from api.settings import Settings
from domain.batch import split_body, validate_batch
from domain.deployments import Deployments
from domain.log.ledger import Ledger
from domain.runs import Run, Runs
from projections.clickhouse import connect
from projections.listing import (
    ExecutionList,
    ListFilter,
    ListOrder,
    OrderField,
    SqlCondition,
)
from projections.migrations import apply_migrations
from projections.replay import verify
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore
from tests.executions import Deployed, Event, ingested

WORKSPACE = uuid.uuid4()
OTHER = uuid.uuid4()
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def append(ledger: Ledger, workspace_id: UUID, events: list[Event]) -> None:
    body = orjson.dumps(events)
    ledger.append(workspace_id, validate_batch(split_body(body, 10_000)).envelopes, START)


def _run(ledger: Ledger, deployment_id: UUID, release_id: UUID, **extra: Any) -> Run:
    run = Run(
        execution_id=uuid.uuid4(),
        workspace_id=WORKSPACE,
        deployment_id=deployment_id,
        release_id=release_id,
        release_tag="prod",
        inputs={"text": "hi"},
        external_id=extra.get("external_id"),
        metadata={"team": "runtime"},
        previous_execution_id=None,
        digest="d",
        replica="r1",
    )
    Runs(ledger).request(run)
    return run


def _history(ledger: Ledger) -> dict[str, UUID]:
    """Ingested executions of three workflows and outcomes, runs in every state, and another
    workspace's executions interleaved."""
    named: dict[str, UUID] = {}
    shapes: list[tuple[str, str | None, Deployed | None, dict[str, Any] | None]] = [
        ("summarise", "FULFILLED", Deployed("summariser", "prod"), {"customer": "acme", "tier": 3}),
        ("summarise", "REJECTED", Deployed("summariser", "beta"), {"customer": "globex"}),
        ("classify", None, None, None),
        ("classify", "FULFILLED", None, None),
        ("translate", "REJECTED", Deployed("translator", "prod"), {"customer": "acme", "tier": 1}),
    ]
    for n in range(30):
        workflow, outcome, deployment, metadata = shapes[n % len(shapes)]
        usage = [("gpt-4o", 100 * n, 10 * n, 0.125 * n)] if n % 2 else []
        if n % 3 == 0:
            usage.append(("claude", 7, 3, 0.5))
        execution_id, events = ingested(
            START + timedelta(minutes=n),
            workflow,
            outcome,
            deployment=deployment,
            metadata=metadata,
            usage=usage,
            duration=timedelta(seconds=n % 7 + 1),
        )
        named[f"ingested-{n}"] = execution_id
        append(ledger, WORKSPACE, events)
        _, theirs = ingested(START + timedelta(minutes=n, seconds=30), workflow, outcome)
        append(ledger, OTHER, theirs)
    runner, release, _ = Deployments(ledger).register(WORKSPACE, "runner", "m:fn", tags=["prod"])
    pending = _run(ledger, runner.id, release.id, external_id="ext-pending")
    started = _run(ledger, runner.id, release.id)
    started.start(uuid.uuid4())
    Runs(ledger).save(started)
    named["pending"], named["started"] = pending.id, started.id
    return named


@pytest.fixture(scope="module")
def listing(module_log_env: dict[str, str]) -> Iterator[tuple[ExecutionList, dict[str, UUID]]]:
    """The history projected once per log backend: the module's tests only read it."""
    settings = Settings.from_env(module_log_env)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.log_env)
    client = connect(settings.clickhouse_url, settings.clickhouse_database)
    try:
        named = _history(ledger)
        apply_migrations(client)
        ProjectionRunner(ledger, ClickHouseStore(client)).catch_up()
        yield ExecutionList(client), named
    finally:
        client.close()
        ledger.close()


EVERYTHING = ListFilter()


def _walk(
    executions: ExecutionList, limit: int, order: ListOrder, where: ListFilter = EVERYTHING
) -> list[Any]:
    items, cursor, pages = [], None, 0
    while True:
        page = executions.page(WORKSPACE, where, order, limit, cursor=cursor)
        items += page.items
        pages += 1
        assert pages < 1000
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 7, 50], ids=lambda n: f"limit-{n}")
@pytest.mark.parametrize("descending", [True, False], ids=["newest-first", "oldest-first"])
def test_every_execution_is_listed_once_in_start_order(
    listing: tuple[ExecutionList, dict[str, UUID]], limit: int, descending: bool
) -> None:
    executions, named = listing
    items = _walk(executions, limit, ListOrder(OrderField.STARTED_AT, descending))
    ids = [item.execution_id for item in items]
    assert sorted(ids) == sorted(named.values())
    keys = [(item.started_at, item.execution_id) for item in items]
    assert keys == sorted(keys, reverse=descending)


def test_items_say_what_the_events_and_runs_say(
    listing: tuple[ExecutionList, dict[str, UUID]],
) -> None:
    executions, named = listing
    by_id = {i.execution_id: i for i in _walk(executions, 100, ListOrder())}
    first = by_id[named["ingested-1"]]  # summarise, REJECTED, beta, 1 gpt-4o node
    assert (first.status, first.workflow, first.deployment, first.release_tag) == (
        "REJECTED",
        "summarise",
        "summariser",
        "beta",
    )
    assert first.error == {"message": "summarise failed: rate limit", "code": "PROVIDER_ERROR"}
    assert first.metadata == {"customer": "globex"}
    assert first.external_id == f"ext-{named['ingested-1']}"
    assert (first.input_tokens, first.output_tokens, first.cost) == (100, 10, 0.125)
    assert first.models == ["gpt-4o"]
    assert first.duration_ms == 2000.0
    assert first.span_count == 2
    running = by_id[named["ingested-2"]]
    assert (running.status, running.ended_at, running.duration_ms) == ("INITIATED", None, None)
    assert (running.deployment, running.metadata) == ("", {})
    pending = by_id[named["pending"]]
    assert (pending.status, pending.deployment, pending.release_tag) == (
        "PENDING",
        "runner",
        "prod",
    )
    assert (pending.external_id, pending.metadata) == ("ext-pending", {"team": "runtime"})
    assert by_id[named["started"]].status == "INITIATED"


@pytest.mark.parametrize("by", [OrderField.ENDED_AT, OrderField.DURATION_MS, OrderField.COST])
@pytest.mark.parametrize("descending", [True, False], ids=["desc", "asc"])
def test_orders_by_a_changing_value_page_through_every_execution(
    listing: tuple[ExecutionList, dict[str, UUID]], by: OrderField, descending: bool
) -> None:
    executions, named = listing
    items = _walk(executions, 4, ListOrder(by, descending))
    assert sorted(i.execution_id for i in items) == sorted(named.values())
    values = [getattr(i, by.value) for i in items]
    present = [v for v in values if v is not None]
    assert present == sorted(present, reverse=descending)
    # Executions without the value (not ended) come last either way.
    assert values[len(present) :] == [None] * (len(values) - len(present))


def test_a_filter_keeps_what_it_names(listing: tuple[ExecutionList, dict[str, UUID]]) -> None:
    executions, _ = listing
    rejected = ListFilter(match=SqlCondition("status = {s:String}", {"s": "REJECTED"}))
    items = _walk(executions, 5, ListOrder(), rejected)
    assert len(items) == 12
    assert {i.status for i in items} == {"REJECTED"}
    acme = ListFilter(
        match=SqlCondition("metadata[{k:String}] = {v:String}", {"k": "customer", "v": '"acme"'}),
        prefilter=SqlCondition(
            "metadata[{pk:String}] = {pv:String}", {"pk": "customer", "pv": '"acme"'}
        ),
    )
    assert len(_walk(executions, 5, ListOrder(descending=False), acme)) == 12


def test_counts_per_group(listing: tuple[ExecutionList, dict[str, UUID]]) -> None:
    executions, _ = listing
    total, by_status = executions.count(WORKSPACE, ListFilter(), "status")
    assert total == 32
    assert {g.value: g.execution_count for g in by_status} == {
        "FULFILLED": 12,
        "REJECTED": 12,
        "INITIATED": 7,
        "PENDING": 1,
    }
    total, by_model = executions.count(WORKSPACE, ListFilter(), "model")
    assert total == 32
    assert {g.value: g.execution_count for g in by_model} == {
        "gpt-4o": 15,
        "claude": 10,
        None: 12,
    }
    assert executions.count(OTHER, ListFilter())[0] == 30


def test_another_workspace_lists_only_its_own(
    listing: tuple[ExecutionList, dict[str, UUID]],
) -> None:
    executions, named = listing
    theirs = executions.page(OTHER, ListFilter(), ListOrder(), 1000)
    assert len(theirs.items) == 30
    assert not {i.execution_id for i in theirs.items} & set(named.values())


def test_verify_reports_an_execution_the_list_holds_otherwise(
    ledger: Ledger, clickhouse: Client
) -> None:
    apply_migrations(clickhouse)
    ids = []
    for n in range(3):
        execution_id, events = ingested(START + timedelta(minutes=n), "summarise", "FULFILLED")
        append(ledger, WORKSPACE, events)
        ids.append(execution_id)
    runner, release, _ = Deployments(ledger).register(WORKSPACE, "runner", "m:fn")
    _run(ledger, runner.id, release.id)
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()
    assert verify(ledger, clickhouse, lambda position, head: None).differences == []

    renamed, dropped = ids[0], ids[1]
    # One execution listed under another workflow, one not listed, one listed from nowhere.
    clickhouse.command(
        "ALTER TABLE execution_index UPDATE workflow = 'forged' "
        "WHERE execution_id = {e:UUID} SETTINGS mutations_sync = 1",
        parameters={"e": renamed},
    )
    clickhouse.command(
        "ALTER TABLE execution_index DELETE WHERE execution_id = {e:UUID} "
        "SETTINGS mutations_sync = 1",
        parameters={"e": dropped},
    )
    phantom = uuid.uuid4()
    clickhouse.command(
        "INSERT INTO execution_index (workspace_id, started_at, execution_id, run, position) "
        "VALUES ({w:UUID}, now64(6), {e:UUID}, 0, 1)",
        parameters={"w": WORKSPACE, "e": phantom},
    )
    differences = verify(ledger, clickhouse, lambda position, head: None).differences
    assert sorted(d.split(":")[0] for d in differences) == sorted(
        [
            f"execution {renamed} (workspace {WORKSPACE})",
            f"execution {dropped} (workspace {WORKSPACE})",
            f"execution {phantom} (workspace {WORKSPACE})",
        ]
    )
