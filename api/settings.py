"""Runledger's configuration, read from the environment once, in the composition root."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from api.connections import ConnectionLimits, default_max_connections
from domain.log.ledger import POSTGRES_MODULE, SQLITE_MODULE
from projections.payloads import DEFAULT_INLINE_PAYLOAD_BYTES

# eventsourcing reads these itself; they pass through to the log unchanged.
_EVENTSOURCING_PREFIXES = ("PERSISTENCE_MODULE", "SQLITE_", "POSTGRES_", "CREATE_TABLE")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None


def _deployments_file(env: Mapping[str, str], data_dir: Path) -> Path | None:
    raw = env.get("RUNLEDGER_DEPLOYMENTS_FILE")
    if raw:
        path = Path(raw)
        if not path.is_file():
            raise ValueError(f"RUNLEDGER_DEPLOYMENTS_FILE names no file: {raw!r}")
        return path
    default = data_dir / "deployments.toml"
    return default if default.is_file() else None


MAX_PAYLOAD_URL_SECONDS = 366 * 24 * 3600


def _payload_url_seconds(env: Mapping[str, str]) -> int:
    seconds = _int(env, "RUNLEDGER_PAYLOAD_URL_SECONDS", 3600)
    if seconds > MAX_PAYLOAD_URL_SECONDS:
        raise ValueError(
            f"RUNLEDGER_PAYLOAD_URL_SECONDS must be at most {MAX_PAYLOAD_URL_SECONDS} (a year)"
            f", got {seconds}"
        )
    return seconds


@dataclass(frozen=True)
class Settings:
    """Everything configurable; see the README's configuration reference."""

    data_dir: Path = Path(".runledger")
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch_events: int = 10_000
    key_cache_seconds: float = 10.0
    log_level: str = "INFO"
    graceful_shutdown_seconds: float = 30.0
    log_env: Mapping[str, str] = field(default_factory=dict)
    clickhouse_url: str = "chdb://.runledger/clickhouse"
    clickhouse_database: str = "runledger"
    projector: str = "thread"
    read_wait_seconds: float = 10.0
    admin_token: str | None = None
    metrics_token: str | None = None
    audit_signing_key: str | None = None
    workers: int = 4
    replica: str = "embedded"
    deployments_file: Path | None = None
    connection_limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    payload_url_seconds: int = 3600
    payload_secret: str | None = None
    inline_payload_bytes: int = DEFAULT_INLINE_PAYLOAD_BYTES

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Settings from `RUNLEDGER_*` variables and eventsourcing's own variables."""
        data_dir = Path(env.get("RUNLEDGER_DATA_DIR") or ".runledger")
        log_env = {k: v for k, v in env.items() if k.startswith(_EVENTSOURCING_PREFIXES)}
        module = log_env.setdefault("PERSISTENCE_MODULE", SQLITE_MODULE)
        if module == SQLITE_MODULE:
            log_env.setdefault("SQLITE_DBNAME", str(data_dir / "log.sqlite"))
        elif module == POSTGRES_MODULE:
            log_env.setdefault("POSTGRES_HOST", "127.0.0.1")
            log_env.setdefault("POSTGRES_PORT", "5432")
            log_env.setdefault("POSTGRES_USER", "postgres")
            log_env.setdefault("POSTGRES_PASSWORD", "")
            log_env.setdefault("POSTGRES_DBNAME", "runledger")
            # A few pooled connections per replica: ingest runs in a thread pool.
            log_env.setdefault("POSTGRES_POOL_SIZE", "4")
            log_env.setdefault("POSTGRES_MAX_OVERFLOW", "8")
        else:
            raise ValueError(
                f"PERSISTENCE_MODULE must be {SQLITE_MODULE} or {POSTGRES_MODULE}, got {module!r}"
            )
        projector = env.get("RUNLEDGER_PROJECTOR") or "thread"
        if projector not in ("thread", "off"):
            raise ValueError(f"RUNLEDGER_PROJECTOR must be 'thread' or 'off', got {projector!r}")
        return cls(
            data_dir=data_dir,
            clickhouse_url=env.get("RUNLEDGER_CLICKHOUSE_URL")
            or f"chdb://{(data_dir / 'clickhouse').resolve()}",
            clickhouse_database=env.get("RUNLEDGER_CLICKHOUSE_DATABASE") or "runledger",
            projector=projector,
            read_wait_seconds=_float(env, "RUNLEDGER_READ_WAIT_SECONDS", 10.0),
            admin_token=env.get("RUNLEDGER_ADMIN_TOKEN") or None,
            metrics_token=env.get("RUNLEDGER_METRICS_TOKEN") or None,
            audit_signing_key=env.get("RUNLEDGER_AUDIT_SIGNING_KEY") or None,
            workers=_int(env, "RUNLEDGER_WORKERS", 4),
            # Names the runs this process owns, to close its own in-flight runs after a crash:
            # every replica writing to one log needs its own stable name.
            replica=env.get("RUNLEDGER_REPLICA") or socket.gethostname(),
            deployments_file=_deployments_file(env, data_dir),
            host=env.get("RUNLEDGER_HOST") or "127.0.0.1",
            port=_int(env, "RUNLEDGER_PORT", 8000),
            max_body_bytes=_int(env, "RUNLEDGER_MAX_BODY_BYTES", 16 * 1024 * 1024),
            max_batch_events=_int(env, "RUNLEDGER_MAX_BATCH_EVENTS", 10_000),
            key_cache_seconds=_float(env, "RUNLEDGER_KEY_CACHE_SECONDS", 10.0),
            log_level=(env.get("RUNLEDGER_LOG_LEVEL") or "INFO").upper(),
            graceful_shutdown_seconds=_float(env, "RUNLEDGER_SHUTDOWN_SECONDS", 30.0),
            log_env=log_env,
            payload_url_seconds=_payload_url_seconds(env),
            payload_secret=env.get("RUNLEDGER_PAYLOAD_SECRET") or None,
            inline_payload_bytes=_int(
                env, "RUNLEDGER_INLINE_PAYLOAD_BYTES", DEFAULT_INLINE_PAYLOAD_BYTES
            ),
            connection_limits=ConnectionLimits(
                header_timeout_seconds=_float(env, "RUNLEDGER_HEADER_TIMEOUT_SECONDS", 10.0),
                body_timeout_seconds=_float(env, "RUNLEDGER_BODY_TIMEOUT_SECONDS", 60.0),
                max_header_bytes=_int(env, "RUNLEDGER_MAX_HEADER_BYTES", 64 * 1024),
                max_headers=_int(env, "RUNLEDGER_MAX_HEADERS", 100),
                max_connections=_int(env, "RUNLEDGER_MAX_CONNECTIONS", default_max_connections()),
            ),
        )

    @property
    def audit_key_path(self) -> Path:
        """Where the server keeps its checkpoint signing key when RUNLEDGER_AUDIT_SIGNING_KEY
        is not set."""
        return self.data_dir / "audit-signing-key"

    @property
    def admin_token_path(self) -> Path:
        """Where `serve` leaves the admin token when RUNLEDGER_ADMIN_TOKEN is not set."""
        return self.data_dir / "admin-token"

    @property
    def first_key_path(self) -> Path:
        """Where the embedded quickstart leaves the first API key."""
        return self.data_dir / "first-api-key"
