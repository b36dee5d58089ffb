"""Numbered schema migrations from clickhouse/migrations, applied at start, each exactly once."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from projections.clickhouse import SQL_ROOT, split_statements

log = logging.getLogger("runledger.migrations")

_NAME = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered .sql file."""

    version: int
    name: str
    path: Path


def migrations(root: Path = SQL_ROOT / "migrations") -> list[Migration]:
    """The migrations on disk, in order; a misnamed file or a reused number is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(root.glob("*.sql")):
        match = _NAME.fullmatch(path.name)
        if match is None:
            raise ValueError(f"migration {path.name} must be named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(
                f"migrations {found[version].path.name} and {path.name} share number {version}"
            )
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def apply_migrations(client: Client, root: Path = SQL_ROOT / "migrations") -> list[int]:
    """Apply what the client's database lacks; returns the versions applied now.

    The SQL files name tables unqualified, so the same files build any database (a replay
    builds a fresh one aside). Each migration is recorded in `schema_migrations` after its
    statements ran; they use `IF NOT EXISTS`, so one cut off midway is safe to run again.
    """
    client.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version UInt32, name String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {
        row[0] for row in client.query("SELECT version FROM schema_migrations FINAL").result_rows
    }
    applied = []
    for migration in migrations(root):
        if migration.version in done:
            continue
        for statement in split_statements(migration.path.read_text()):
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name]],
            column_names=["version", "name"],
        )
        log.info(
            "applied migration", extra={"version": migration.version, "migration": migration.name}
        )
        applied.append(migration.version)
    return applied
