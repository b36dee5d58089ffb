"""Which lock each cross-process role takes in this deployment (projections/leader.py has the
kinds): the projection writer's, and the one a process holds while it migrates."""

from __future__ import annotations

from api.settings import Settings
from domain.log.ledger import SQLITE_MODULE
from projections.leader import FileWriterLock, PostgresWriterLock, WriterLock


def _lock(settings: Settings, purpose: str, database: str) -> WriterLock:
    if settings.log_env["PERSISTENCE_MODULE"] == SQLITE_MODULE:
        return FileWriterLock(settings.data_dir / f"{purpose}.lock")
    # Processes working on the same ClickHouse database, wherever they run, share the key.
    target = settings.clickhouse_url.rsplit("@", 1)[-1]
    return PostgresWriterLock(settings.log_env, f"runledger-{purpose} {target} {database}")


def writer_lock(settings: Settings) -> WriterLock | None:
    """The lock that picks this process as the projection writer, or None if it never writes."""
    if settings.projector == "off":
        return None
    return _lock(settings, "projector", settings.clickhouse_database)


def migration_lock(settings: Settings, database: str) -> WriterLock:
    """The lock a process holds while it migrates `database` (every process migrates at start).

    Without it, replicas starting together both apply a migration, and one can recreate what
    the other's next migration just dropped (0009's interim view after 0010 removed it).
    """
    return _lock(settings, "migrations", database)
