"""Schema migrations: applied in order at start, each exactly once, named by number."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from domain.batch import split_body, validate_batch
from domain.deployments import Deployments
from domain.lifecycle import ExecutionStatus
from domain.log.ledger import Ledger
from domain.runs import Run, Runs
from projections.clickhouse import connect, split_statements
from projections.detail import ExecutionDetails, SpanView
from projections.facts import FACT_TOPICS, fact_rows
from projections.listing import ExecutionList, ListFilter, ListOrder
from projections.migrations import apply_migrations, migrations
from projections.queries import ExecutionQueries
from projections.runner import ProjectionRunner
from projections.state import execution_state
from projections.store import ClickHouseStore
from tests.events import execution, node_event, workflow_event

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_migrations_apply_once_and_record_themselves(clickhouse: Client) -> None:
    versions = [m.version for m in migrations()]
    assert versions == sorted(versions)
    assert apply_migrations(clickhouse) == versions
    assert apply_migrations(clickhouse) == []
    tables = {row[0] for row in clickhouse.query("SHOW TABLES").result_rows}
    assert {
        "events",
        "span_detail",
        "span_detail_mv",
        "executions",
        "executions_header_mv",
        "tracking",
    } <= tables
    replaced = {
        "execution_summary",
        "executions_mv",
        "spans",
        "spans_mv",
        "span_order",
        "span_order_mv",
    }
    assert not (replaced | {"span_detail_upgrade_mv"}) & tables
    recorded = clickhouse.query(
        "SELECT version FROM schema_migrations FINAL ORDER BY version"
    ).result_rows
    assert [row[0] for row in recorded] == versions


def test_a_misnamed_or_renumbered_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1")
    (tmp_path / "0001_b.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match="share number 1"):
        migrations(tmp_path)
    (tmp_path / "0001_b.sql").unlink()
    (tmp_path / "2_bad.sql").write_text("SELECT 1")
    with pytest.raises(ValueError, match=r"NNNN_name\.sql"):
        migrations(tmp_path)


def test_statements_split_at_line_ending_semicolons_and_drop_comments() -> None:
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x String DEFAULT ';');\n\nSELECT 1;\n"
    assert split_statements(sql) == ["CREATE TABLE a (x String DEFAULT ';')", "SELECT 1"]


def _migrate_through(client: Client, version: int, tmp_path: Path) -> None:
    """A database as an older release left it: the migrations up to `version`, recorded."""
    older = tmp_path / "migrations"
    older.mkdir()
    for migration in migrations():
        if migration.version <= version:
            (older / migration.path.name).write_text(migration.path.read_text())
    apply_migrations(client, older)


def test_executions_projected_before_the_summary_moved_keep_their_status(
    clickhouse: Client, tmp_path: Path
) -> None:
    # Projected into `execution_summary` by a release before 0006, then upgraded: 0006 copies
    # the summaries into `executions` and 0007 drops the old table.
    workspace = uuid.uuid4()
    fulfilled, rejected = execution(node_count=2), execution(node_count=1)
    rejected[-1] = workflow_event("rejected", rejected[0]["span_id"], 9000)
    ledger = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    body = orjson.dumps(fulfilled + rejected)
    ledger.append(workspace, validate_batch(split_body(body, max_events=100)).envelopes, NOW)
    _migrate_through(clickhouse, 5, tmp_path)
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()

    assert apply_migrations(clickhouse) == [m.version for m in migrations() if m.version > 5]

    tables = {row[0] for row in clickhouse.query("SHOW TABLES").result_rows}
    assert not {"execution_summary", "execution_summary_mv"} & tables
    queries = ExecutionQueries(clickhouse)
    statuses = {
        run[0]["span_id"]: queries.status(workspace, uuid.UUID(run[0]["span_id"])).summary
        for run in (fulfilled, rejected)
    }
    assert {ex: view.status if view else None for ex, view in statuses.items()} == {
        fulfilled[0]["span_id"]: ExecutionStatus.FULFILLED,
        rejected[0]["span_id"]: ExecutionStatus.REJECTED,
    }
    # And the upgraded table keeps folding what the projection writes next.
    late = workflow_event("rejected", fulfilled[0]["span_id"], 10_000)
    ledger.append(workspace, validate_batch(split_body(orjson.dumps([late]), 1)).envelopes, NOW)
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()
    view = queries.status(workspace, uuid.UUID(fulfilled[0]["span_id"])).summary
    assert view is not None
    assert view.has_conflicting_outcomes
    ledger.close()


def _walk(client: Client, workspace: uuid.UUID, execution_id: uuid.UUID) -> list[object]:
    """Every page of span_limit 2 of the execution, as the detail shows it."""
    details = ExecutionDetails(client)
    shown: list[object] = []
    cursor = None
    while True:
        page = details.page(workspace, execution_id, cursor, 2)
        shown.append((page.root, page.state, page.usage_total))
        shown += page.spans
        if not page.has_more:
            return shown
        cursor = page.spans[-1].span_id


def test_spans_projected_before_span_detail_keep_their_detail(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    # Projected into `spans` and `span_order` by a release before 0009, then upgraded: 0009
    # folds what `spans` and `events` hold into `span_detail`, 0010 makes it the keyset order
    # and drops the old tables. The pages must be the ones a database projected from scratch
    # shows, before and after more events arrive.
    workspace = uuid.uuid4()
    first, second = execution(node_count=3), execution(node_count=2)
    late_span = str(uuid.uuid4())
    execution_id = first[0]["span_id"]
    open_span = node_event("initiated", execution_id, late_span, 500)
    ledger = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    body = orjson.dumps([*first[:-1], open_span, *second, first[-1]])
    ledger.append(workspace, validate_batch(split_body(body, max_events=100)).envelopes, NOW)
    _migrate_through(clickhouse, 8, tmp_path)
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()

    assert apply_migrations(clickhouse) == [m.version for m in migrations() if m.version > 8]

    tables = {row[0] for row in clickhouse.query("SHOW TABLES").result_rows}
    assert not {"spans", "spans_mv", "span_order", "span_order_mv"} & tables
    fresh = connect(clickhouse_url, f"{clickhouse.database}_fresh")
    try:
        apply_migrations(fresh)
        ProjectionRunner(ledger, ClickHouseStore(fresh)).catch_up()
        for run in (first, second):
            run_id = uuid.UUID(run[0]["span_id"])
            assert _walk(clickhouse, workspace, run_id) == _walk(fresh, workspace, run_id)
        # The upgraded table keeps folding what the projection writes next: the open span's
        # end joins the row the backfill wrote, at the span's first position.
        done = node_event("fulfilled", execution_id, late_span, 600)
        more = validate_batch(split_body(orjson.dumps([done]), 1)).envelopes
        ledger.append(workspace, more, NOW)
        for client in (clickhouse, fresh):
            ProjectionRunner(ledger, ClickHouseStore(client)).catch_up()
        upgraded = _walk(clickhouse, workspace, uuid.UUID(execution_id))
        assert upgraded == _walk(fresh, workspace, uuid.UUID(execution_id))
        late = [s for s in upgraded if isinstance(s, SpanView) and str(s.span_id) == late_span]
        assert [(s.status, len(s.events)) for s in late] == [("FULFILLED", 2)]
    finally:
        fresh.command("DROP DATABASE IF EXISTS {d:Identifier}", parameters={"d": fresh.database})
        fresh.close()
    ledger.close()


def _snapshot(execution_id: str, offset_ms: int, step: int) -> dict[str, object]:
    event = workflow_event("snapshotted", execution_id, offset_ms)
    event["body"] = {**event["body"], "state": {"step": step}}
    return event


def test_executions_projected_before_the_header_moved_keep_their_header_and_state(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    # Projected by a release before 0011, whose detail header and state read the root span's
    # events: 0011 folds them into `executions`. The header, the state and the pages must be
    # the ones a database projected from scratch shows, before and after more snapshots.
    workspace = uuid.uuid4()
    run = execution(node_count=3)
    execution_id = run[0]["span_id"]
    run[0]["links"] = [
        {
            "type": "PREVIOUS_SPAN",
            "trace_id": str(uuid.uuid4()),
            "span_context": {"span_id": str(uuid.uuid4())},
        }
    ]
    # Two snapshots at one timestamp: the later log position wins.
    snapshots = [_snapshot(execution_id, 3, 1), _snapshot(execution_id, 7, 2)]
    snapshots.append(_snapshot(execution_id, 7, 3))
    ledger = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    body = orjson.dumps([*run[:-1], *snapshots, run[-1]])
    ledger.append(workspace, validate_batch(split_body(body, max_events=100)).envelopes, NOW)
    _migrate_through(clickhouse, 10, tmp_path)
    ProjectionRunner(ledger, ClickHouseStore(clickhouse)).catch_up()
    run_id = uuid.UUID(execution_id)

    assert apply_migrations(clickhouse) == [m.version for m in migrations() if m.version > 10]

    fresh = connect(clickhouse_url, f"{clickhouse.database}_fresh")
    try:
        apply_migrations(fresh)
        ProjectionRunner(ledger, ClickHouseStore(fresh)).catch_up()
        upgraded = execution_state(clickhouse, workspace, run_id)
        assert upgraded is not None
        assert upgraded == execution_state(fresh, workspace, run_id)
        assert upgraded.state == {"step": 3}
        assert str(upgraded.trace_id) == snapshots[-1]["trace_id"]
        assert str(upgraded.previous_span_id) == run[0]["links"][0]["span_context"]["span_id"]
        assert _walk(clickhouse, workspace, run_id) == _walk(fresh, workspace, run_id)
        page = ExecutionDetails(clickhouse).page(workspace, run_id, None, 10)
        assert orjson.loads(page.state) == {"step": 3}
        assert orjson.loads(page.parent_context) == run[0]["parent"]
        # The upgraded table keeps folding what the projection writes next.
        newer = validate_batch(split_body(orjson.dumps([_snapshot(execution_id, 9, 4)]), 1))
        ledger.append(workspace, newer.envelopes, NOW)
        for client in (clickhouse, fresh):
            ProjectionRunner(ledger, ClickHouseStore(client)).catch_up()
            state = execution_state(client, workspace, run_id)
            assert state is not None
            assert state.state == {"step": 4}
        assert _walk(clickhouse, workspace, run_id) == _walk(fresh, workspace, run_id)
    finally:
        fresh.command("DROP DATABASE IF EXISTS {d:Identifier}", parameters={"d": fresh.database})
        fresh.close()
    ledger.close()


def test_executions_and_runs_projected_before_the_list_existed_are_listed(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    # Projected by a release at 0012 (runs folded, no list): 0013 lists what was there, as a
    # database projected from scratch lists it, and keeps listing what comes next.
    workspace = uuid.uuid4()
    ledger = Ledger({"SQLITE_DBNAME": str(tmp_path / "log.sqlite")})
    deployment, release, _ = Deployments(ledger).register(workspace, "summarize", "m:fn")

    def request_run() -> UUID:
        run = Run(
            execution_id=uuid.uuid4(),
            workspace_id=workspace,
            deployment_id=deployment.id,
            release_id=release.id,
            release_tag="LATEST",
            inputs={},
            external_id=None,
            metadata={"team": "a"},
            previous_execution_id=None,
            digest="d",
            replica="r1",
        )
        Runs(ledger).request(run)
        return run.id

    def ingest_one() -> None:
        body = orjson.dumps(execution(node_count=1))
        ledger.append(workspace, validate_batch(split_body(body, max_events=100)).envelopes, NOW)

    request_run()
    ingest_one()
    _migrate_through(clickhouse, 12, tmp_path)
    # As a release at 0012 projected it: the facts' rows and the events, no list rows.
    head = ledger.max_position()
    for table, columns, rows in fact_rows(ledger.read_facts(0, head, FACT_TOPICS)).tables():
        clickhouse.insert(table, rows, column_names=list(columns))
    clickhouse.command(
        "INSERT INTO tracking (projection_name, position) VALUES ('facts', {head:UInt64})",
        parameters={"head": head},
    )
    ClickHouseStore(clickhouse).apply(ledger.read(after=0, limit=1000))

    assert apply_migrations(clickhouse) == [m.version for m in migrations() if m.version > 12]

    fresh = connect(clickhouse_url, f"{clickhouse.database}_fresh")
    try:
        apply_migrations(fresh)
        request_run()
        ingest_one()
        for client in (clickhouse, fresh):
            ProjectionRunner(ledger, ClickHouseStore(client)).catch_up()

        def listed(client: Client) -> list[tuple[UUID, str, str, int]]:
            page = ExecutionList(client).page(workspace, ListFilter(), ListOrder(), 100)
            return [(i.execution_id, i.status, i.deployment, i.listed_position) for i in page.items]

        assert len(listed(clickhouse)) == 4
        assert listed(clickhouse) == listed(fresh)
        # 0014 finds each by where it was listed, those listed before it included.
        for client in (clickhouse, fresh):
            queries = ExecutionQueries(client)
            for execution_id, _, _, position in listed(client):
                assert queries.listed_at(workspace, position) == execution_id
        assert sorted(status for _, status, _, _ in listed(clickhouse)) == [
            "FULFILLED",
            "FULFILLED",
            "PENDING",
            "PENDING",
        ]
    finally:
        fresh.command("DROP DATABASE IF EXISTS {d:Identifier}", parameters={"d": fresh.database})
        fresh.close()
    ledger.close()
