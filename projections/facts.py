"""The aggregates' events the projections fold, and the rows each becomes.

Runs, actuals and deployments are aggregates in the log (domain/runs.py, domain/actuals.py,
domain/deployments.py). Their events become rows of the tables of migration 0012, so that the
reads (status's PENDING and cancels, actuals, the deployments listing) read ClickHouse like
every other read instead of the log. Each table is idempotent under replay (aggregate states
of any/min, or rows keyed by their log position), so a batch applied twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic

from domain.actuals import Actuals
from domain.deployments import Deployment
from domain.log import LoggedFact
from domain.runs import Run


def _topic(event_class: Any) -> str:
    return get_topic(event_class)


RUN_REQUESTED = _topic(Run.Requested)  # type: ignore[attr-defined]
RUN_STARTED = _topic(Run.Started)  # type: ignore[attr-defined]
RUN_CANCEL_REQUESTED = _topic(Run.CancelRequested)  # type: ignore[attr-defined]
RUN_FINISHED = _topic(Run.Finished)  # type: ignore[attr-defined]
ACTUALS_OPENED = _topic(Actuals.Opened)  # type: ignore[attr-defined]
ACTUALS_SUBMITTED = _topic(Actuals.Submitted)  # type: ignore[attr-defined]
DEPLOYMENT_REGISTERED = _topic(Deployment.Registered)  # type: ignore[attr-defined]
DEPLOYMENT_RELEASED = _topic(Deployment.Released)  # type: ignore[attr-defined]

FACT_TOPICS = (
    RUN_REQUESTED,
    RUN_STARTED,
    RUN_CANCEL_REQUESTED,
    RUN_FINISHED,
    ACTUALS_OPENED,
    ACTUALS_SUBMITTED,
    DEPLOYMENT_REGISTERED,
    DEPLOYMENT_RELEASED,
)
"""The topics of every aggregate event a projection folds."""

RUN_COLUMNS = (
    "execution_id",
    "workspace_id",
    "deployment_id",
    "release_id",
    "release_tag",
    "external_id",
    "metadata",
    "inputs",
    "previous_execution_id",
    "replica",
    "requested_at",
    "requested_position",
    "started_at",
    "trace_id",
    "cancel_requested",
    "finished_status",
    "finished_at",
)
ACTUALS_STREAM_COLUMNS = ("stream_id", "workspace_id", "execution_id")
ACTUAL_COLUMNS = ("stream_id", "position", "item", "actual", "timestamp")
DEPLOYMENT_COLUMNS = ("deployment_id", "workspace_id", "name", "registered_at", "position")
RELEASE_COLUMNS = (
    "deployment_id",
    "position",
    "release_id",
    "entrypoint",
    "tags",
    "timeout_seconds",
    "description",
    "released_at",
)

Row = list[Any]


@dataclass
class FactRows:
    """A batch of facts as rows, per table (columns in the tables' `*_COLUMNS` order)."""

    runs: list[Row] = field(default_factory=list)
    actuals_streams: list[Row] = field(default_factory=list)
    actuals: list[Row] = field(default_factory=list)
    deployments: list[Row] = field(default_factory=list)
    releases: list[Row] = field(default_factory=list)

    def tables(self) -> list[tuple[str, Sequence[str], list[Row]]]:
        """(table, columns, rows) for every table with rows."""
        every = [
            ("runs", RUN_COLUMNS, self.runs),
            ("actuals_streams", ACTUALS_STREAM_COLUMNS, self.actuals_streams),
            ("actuals", ACTUAL_COLUMNS, self.actuals),
            ("deployments", DEPLOYMENT_COLUMNS, self.deployments),
            ("releases", RELEASE_COLUMNS, self.releases),
        ]
        return [(table, columns, rows) for table, columns, rows in every if rows]


def _json(value: Any) -> str | None:
    return orjson.dumps(value).decode() if value is not None else None


def _run_row(execution_id: UUID, **values: Any) -> Row:
    row: dict[str, Any] = dict.fromkeys(RUN_COLUMNS)
    row["execution_id"] = execution_id
    row.update(values)
    return [row[name] for name in RUN_COLUMNS]


def _run_requested(fact: LoggedFact, rows: FactRows) -> None:
    a = fact.attributes
    rows.runs.append(
        _run_row(
            fact.originator_id,
            workspace_id=a["workspace_id"],
            deployment_id=a["deployment_id"],
            release_id=a["release_id"],
            release_tag=a["release_tag"],
            external_id=a.get("external_id"),
            metadata=_json(a.get("metadata")),
            inputs=_json(a.get("inputs")),
            previous_execution_id=a.get("previous_execution_id"),
            replica=a.get("replica"),
            requested_at=fact.timestamp,
            requested_position=fact.position,
        )
    )


def _run_started(fact: LoggedFact, rows: FactRows) -> None:
    rows.runs.append(
        _run_row(
            fact.originator_id, started_at=fact.timestamp, trace_id=fact.attributes["trace_id"]
        )
    )


def _run_cancel_requested(fact: LoggedFact, rows: FactRows) -> None:
    a = fact.attributes
    cancel = {"code": a["code"], "message": a["message"], "at": a["at"]}
    rows.runs.append(_run_row(fact.originator_id, cancel_requested=_json(cancel)))


def _run_finished(fact: LoggedFact, rows: FactRows) -> None:
    rows.runs.append(
        _run_row(
            fact.originator_id,
            finished_status=fact.attributes["status"],
            finished_at=fact.timestamp,
        )
    )


def _actuals_opened(fact: LoggedFact, rows: FactRows) -> None:
    a = fact.attributes
    rows.actuals_streams.append([fact.originator_id, a["workspace_id"], a["execution_id"]])


def _actuals_submitted(fact: LoggedFact, rows: FactRows) -> None:
    for item, actual in enumerate(fact.attributes["actuals"]):
        timestamp = float(actual.get("timestamp") or fact.timestamp.timestamp())
        rows.actuals.append([fact.originator_id, fact.position, item, _json(actual), timestamp])


def _deployment_registered(fact: LoggedFact, rows: FactRows) -> None:
    a = fact.attributes
    rows.deployments.append(
        [fact.originator_id, a["workspace_id"], a["name"], fact.timestamp, fact.position]
    )


def _deployment_released(fact: LoggedFact, rows: FactRows) -> None:
    a = fact.attributes
    released_at: datetime = a["released_at"]
    rows.releases.append(
        [
            fact.originator_id,
            fact.position,
            a["release_id"],
            a["entrypoint"],
            list(a["tags"]),
            a.get("timeout_seconds"),
            a.get("description"),
            released_at,
        ]
    )


_FOLDS: dict[str, Callable[[LoggedFact, FactRows], None]] = {
    RUN_REQUESTED: _run_requested,
    RUN_STARTED: _run_started,
    RUN_CANCEL_REQUESTED: _run_cancel_requested,
    RUN_FINISHED: _run_finished,
    ACTUALS_OPENED: _actuals_opened,
    ACTUALS_SUBMITTED: _actuals_submitted,
    DEPLOYMENT_REGISTERED: _deployment_registered,
    DEPLOYMENT_RELEASED: _deployment_released,
}


def fact_rows(facts: Sequence[LoggedFact]) -> FactRows:
    """The rows a batch of facts becomes."""
    rows = FactRows()
    for fact in facts:
        _FOLDS[fact.topic](fact, rows)
    return rows
