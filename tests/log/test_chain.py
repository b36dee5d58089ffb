"""The log's hash chain on every backend: intact logs hold, and rows altered, removed, added or
swapped directly in SQLite or PostgreSQL are found at the right position."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson
import psycopg
import pytest
from psycopg import sql

from api.cli import parser
from api.settings import Settings
from domain.batch import split_body, validate_batch
from domain.keys import KeyRing
from domain.log.ledger import POSTGRES_MODULE, Ledger
from domain.runs import Run
from tests.conftest import PG
from tests.events import execution

NOW = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)


def fill(ledger: Ledger) -> int:
    """Events in several commits, a key, and a run saved beside events; the log's head."""
    workspace = uuid.uuid4()
    for _ in range(3):
        batch = validate_batch(split_body(orjson.dumps(execution(node_count=2)), 100))
        ledger.append(workspace, batch.envelopes, NOW)
    KeyRing(ledger).create("chained")
    run = Run(
        execution_id=uuid.uuid4(),
        workspace_id=workspace,
        deployment_id=uuid.uuid4(),
        release_id=uuid.uuid4(),
        release_tag="LATEST",
        inputs={},
        external_id=None,
        metadata=None,
        previous_execution_id=None,
        digest="d",
        replica="tests",
    )
    batch = validate_batch(split_body(orjson.dumps(execution(node_count=1)), 100))
    ledger.append(workspace, batch.envelopes, NOW, also_save=[run])
    return ledger.max_position()


def execute(ledger: Ledger, env: Mapping[str, str], statement: str) -> None:
    """Run `statement` on the log's own table (`{table}`, `{chain}`, `{id}` name its parts)."""
    events = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    if ledger.persistence_module == POSTGRES_MODULE:
        schema = env["POSTGRES_SCHEMA"]
        text = sql.SQL(statement).format(
            table=sql.Identifier(schema, events),
            chain=sql.Identifier(schema, f"{events}_chain"),
            id=sql.Identifier("notification_id"),
        )
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=PG["host"],
            port=PG["port"],
            user=PG["user"],
            autocommit=True,
        ) as conn:
            conn.execute(text)
        return
    path = Settings.from_env(env).log_env["SQLITE_DBNAME"]
    with sqlite3.connect(path) as conn:
        conn.execute(statement.format(table=events, chain=f"{events}_chain", id="rowid"))


def add_a_row(ledger: Ledger, env: Mapping[str, str]) -> None:
    """A copy of record 2 under a new stream id, inserted behind the chain's back."""
    forged = uuid.uuid4()
    value = f"'{forged}'" if ledger.persistence_module == POSTGRES_MODULE else f"'{forged.hex}'"
    execute(
        ledger,
        env,
        "INSERT INTO {table} (originator_id, originator_version, topic, state) "
        f"SELECT {value}, 1, topic, state FROM {{table}} WHERE {{id}} = 2",
    )


def test_an_untouched_log_holds_its_chain(ledger: Ledger) -> None:
    head = fill(ledger)
    checked = ledger.check_chain()
    assert checked.first_break is None
    assert (checked.records_count, checked.head_position) == (head, head)
    assert len(checked.head_link) == 32


@pytest.mark.parametrize(
    ("statement", "at", "reason"),
    [
        ("UPDATE {table} SET topic = 'node.execution.streaming' WHERE {id} = 5", 5, "altered"),
        ("UPDATE {table} SET originator_version = 2 WHERE {id} = 6", 6, "altered"),
        ("DELETE FROM {table} WHERE {id} = 4", 4, "removed"),
        (
            "UPDATE {table} SET state = CASE {id} WHEN 3 THEN (SELECT state FROM {table} WHERE "
            "{id} = 8) ELSE (SELECT state FROM {table} WHERE {id} = 3) END WHERE {id} IN (3, 8)",
            3,
            "altered",
        ),
        ("UPDATE {chain} SET link = digests WHERE first_position = 1", 1, "rewritten"),
    ],
    ids=["topic", "version", "deleted", "swapped", "chain-link"],
)
def test_a_changed_row_is_found_at_its_position(
    ledger: Ledger, log_env: dict[str, str], statement: str, at: int, reason: str
) -> None:
    fill(ledger)
    execute(ledger, log_env, statement)
    broken = ledger.check_chain().first_break
    assert broken is not None
    assert broken.position == at
    assert reason in broken.reason


def test_a_changed_state_is_found(ledger: Ledger, log_env: dict[str, str]) -> None:
    fill(ledger)
    if ledger.persistence_module == POSTGRES_MODULE:
        execute(
            ledger, log_env, "UPDATE {table} SET state = state || '\\x20'::bytea WHERE {id} = 7"
        )
    else:
        execute(ledger, log_env, "UPDATE {table} SET state = state || X'20' WHERE {id} = 7")
    broken = ledger.check_chain().first_break
    assert broken is not None
    assert (broken.position, "altered" in broken.reason) == (7, True)


def test_a_row_added_behind_the_chains_back_is_found(
    ledger: Ledger, log_env: dict[str, str]
) -> None:
    head = fill(ledger)
    add_a_row(ledger, log_env)
    broken = ledger.check_chain().first_break
    assert broken is not None
    assert broken.position > head
    assert "added" in broken.reason


def test_a_log_from_before_the_chain_is_chained_when_opened(
    ledger: Ledger, log_env: dict[str, str]
) -> None:
    head = fill(ledger)
    execute(ledger, log_env, "DELETE FROM {chain}")
    assert ledger.check_chain().first_break is not None
    reopened = Ledger(Settings.from_env(log_env).log_env)
    try:
        checked = reopened.check_chain()
    finally:
        reopened.close()
    assert checked.first_break is None
    assert checked.records_count == head


def test_verify_log_names_the_position_and_fails(
    ledger: Ledger, log_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    fill(ledger)
    arguments = parser().parse_args(["verify", "--log"])
    assert arguments.handler(arguments, log_env) == 0
    assert "the chain holds" in capsys.readouterr().out
    execute(ledger, log_env, "DELETE FROM {table} WHERE {id} = 2")
    assert arguments.handler(arguments, log_env) == 1
    assert "position 2: the chain's record is missing (removed)" in capsys.readouterr().out


def test_opening_the_log_again_does_not_chain_a_row_somebody_added(
    ledger: Ledger, log_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    head = fill(ledger)
    add_a_row(ledger, log_env)
    Ledger(Settings.from_env(log_env).log_env).close()  # a server's start
    arguments = parser().parse_args(["verify", "--log"])
    assert arguments.handler(arguments, log_env) == 1
    out = capsys.readouterr().out
    assert f"position {head + 1}: a record the chain does not hold (added)" in out
