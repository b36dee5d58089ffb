"""Runs, actuals and deployments are folded from the log into ClickHouse (projections/facts.py).

On both log backends: what the reads find equals what the aggregates say; applying the facts
again changes nothing; and a log that held aggregates before their tables existed (a server
upgraded past migration 0012) has them folded from its start.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from domain.actuals import ActualsLog
from domain.batch import split_body, validate_batch
from domain.deployments import Deployments
from domain.log.ledger import Ledger
from domain.runs import Run, Runs
from projections.deployments import DeploymentQueries, DeploymentView
from projections.facts import FACT_TOPICS
from projections.migrations import apply_migrations
from projections.queries import ExecutionQueries, RunView
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore
from tests.events import execution

WORKSPACE = uuid.uuid4()
OTHER = uuid.uuid4()


def _request(ledger: Ledger, deployment_id: UUID, release_id: UUID, **extra: object) -> Run:
    run = Run(
        execution_id=uuid.uuid4(),
        workspace_id=WORKSPACE,
        deployment_id=deployment_id,
        release_id=release_id,
        release_tag="LATEST",
        inputs={"text": "hi"},
        external_id=extra.get("external_id"),  # type: ignore[arg-type]
        metadata={"team": "a"},
        previous_execution_id=None,
        digest="d",
        replica="r1",
    )
    Runs(ledger).request(run)
    return run


def _history(ledger: Ledger) -> dict[str, Run]:
    """Deployments with moving tags, runs in every state, actuals, and some events between."""
    deployments = Deployments(ledger)
    deployment, first, _ = deployments.register(WORKSPACE, "summarize", "m:one", tags=["prod"])
    deployments.register(WORKSPACE, "summarize", "m:two", tags=["beta"])
    deployments.register(OTHER, "theirs", "m:x")
    pending = _request(ledger, deployment.id, first.id, external_id="ext-1")
    running = _request(ledger, deployment.id, first.id)
    running.start(uuid.uuid4())
    Runs(ledger).save(running)
    cancelled = _request(ledger, deployment.id, first.id)
    cancelled.request_cancel("WORKFLOW_CANCELLED", "stop", "2026-12-07T00:00:00Z")
    Runs(ledger).save(cancelled)
    finished = _request(ledger, deployment.id, first.id)
    finished.start(uuid.uuid4())
    finished.finish("FULFILLED")
    Runs(ledger).save(finished)
    events = execution(node_count=2)
    ledger.append(
        WORKSPACE,
        validate_batch(split_body(orjson.dumps(events), 100)).envelopes,
        datetime.now(UTC),
    )
    actuals = ActualsLog(ledger)
    actuals.submit(
        WORKSPACE, finished.id, [{"output_key": "summary", "quality": 0.5, "timestamp": 1.0}]
    )
    actuals.submit(
        WORKSPACE, finished.id, [{"output_key": "summary", "quality": 1.0, "timestamp": 2.0}]
    )
    return {"pending": pending, "running": running, "cancelled": cancelled, "finished": finished}


@dataclass(frozen=True)
class Answers:
    """What the reads find for `_history`."""

    runs: dict[str, tuple[RunView | None, list[dict[str, Any]] | None]]
    deployments: tuple[int, list[DeploymentView]]
    theirs: tuple[int, list[DeploymentView]]
    by_external_id: UUID | None


def _answers(clickhouse: Client, runs: dict[str, Run]) -> Answers:
    queries = ExecutionQueries(clickhouse)
    found = {}
    for name, run in runs.items():
        read = queries.status(WORKSPACE, run.id)
        found[name] = (read.run, read.actuals)
        assert queries.status(OTHER, run.id).run is None  # another workspace's is no run of it
    deployments = DeploymentQueries(clickhouse)
    return Answers(
        runs=found,
        deployments=deployments.page(WORKSPACE, 10, 0),
        theirs=deployments.page(OTHER, 10, 0),
        by_external_id=queries.run_by_external_id(WORKSPACE, "ext-1"),
    )


def test_runs_actuals_and_deployments_read_as_the_aggregates_say(
    ledger: Ledger, clickhouse: Client
) -> None:
    runs = _history(ledger)
    apply_migrations(clickhouse)
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()
    answers = _answers(clickhouse, runs)

    pending_run, no_actuals = answers.runs["pending"]
    assert pending_run is not None
    assert (pending_run.started, pending_run.finished_status) == (False, None)
    assert pending_run.inputs == {"text": "hi"}
    assert no_actuals is None
    running_run, _ = answers.runs["running"]
    assert running_run is not None
    assert (running_run.started, running_run.finished_status) == (True, None)
    cancelled_run, _ = answers.runs["cancelled"]
    assert cancelled_run is not None
    assert cancelled_run.cancel_requested is not None
    assert cancelled_run.cancel_requested["code"] == "WORKFLOW_CANCELLED"
    finished_run, actuals = answers.runs["finished"]
    assert finished_run is not None
    assert finished_run.finished_status == "FULFILLED"
    assert actuals == [{"output_key": "summary", "quality": 1.0, "timestamp": 2.0}]
    assert answers.by_external_id == runs["pending"].id

    count, (summarize,) = answers.deployments
    assert count == 1
    aggregate = Deployments(ledger).find(WORKSPACE, "summarize")
    assert summarize.name == "summarize"
    assert summarize.releases == aggregate.releases
    assert [r.tags for r in summarize.releases] == [("prod",), ("LATEST", "beta")]
    assert [d.name for d in answers.theirs[1]] == ["theirs"]


def test_facts_applied_again_change_nothing(ledger: Ledger, clickhouse: Client) -> None:
    runs = _history(ledger)
    apply_migrations(clickhouse)
    store = ClickHouseStore(clickhouse)
    ProjectionRunner(ledger, store).catch_up()
    before = _answers(clickhouse, runs)
    head = ledger.max_position()
    store.apply_facts(ledger.read_facts(0, head, FACT_TOPICS), head)
    assert _answers(clickhouse, runs) == before


def test_a_log_with_aggregates_from_before_their_tables_is_folded_from_its_start(
    ledger: Ledger, clickhouse: Client
) -> None:
    runs = _history(ledger)
    apply_migrations(clickhouse)
    # The events were projected by a release that had no facts to fold: its tracking row is at
    # the log's head, and there is none of `facts`.
    store = ClickHouseStore(clickhouse)
    events = ledger.read(after=0, limit=1000)
    store.apply(events)
    assert store.facts_position() == 0
    ProjectionRunner(ledger, store).catch_up()
    assert store.facts_position() == ledger.max_position()
    _, actuals = _answers(clickhouse, runs).runs["finished"]
    assert actuals is not None


@pytest.mark.parametrize("through_gap", [1, 3])
def test_facts_read_from_the_tail_equal_those_read_from_the_database(
    ledger: Ledger, through_gap: int
) -> None:
    _history(ledger)
    head = ledger.max_position()
    fresh = Ledger(ledger.env)  # no tail: every read goes to the database
    try:
        for after in range(0, head, through_gap):
            assert ledger.read_facts(after, head, FACT_TOPICS) == fresh.read_facts(
                after, head, FACT_TOPICS
            )
    finally:
        fresh.close()
