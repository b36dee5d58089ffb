"""Schema migrations: applied in order at start, each exactly once, named by number."""

from __future__ import annotations

from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from projections.clickhouse import split_statements
from projections.migrations import apply_migrations, migrations


def test_migrations_apply_once_and_record_themselves(clickhouse: Client) -> None:
    versions = [m.version for m in migrations()]
    assert versions == sorted(versions)
    assert apply_migrations(clickhouse) == versions
    assert apply_migrations(clickhouse) == []
    tables = {row[0] for row in clickhouse.query("SHOW TABLES").result_rows}
    assert {
        "events",
        "spans",
        "span_order",
        "execution_summary",
        "execution_summary_mv",
        "tracking",
    } <= tables
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
