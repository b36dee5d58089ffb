"""Rebuild every projection from the log aside, then switch reads to it; and verify them.

`replay` fills a new generation from position 0 while the live one keeps serving, then points
readers at it; the live runner continues from the new generation's tracking row, so events
that arrived during the replay are applied exactly once there too.
`verify` folds the log afresh with domain.lifecycle and compares every execution's status, span
count, each span's usage, its root span's parent context and newest state, and where the list
holds it, with what the projections answer.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from clickhouse_connect.driver.client import Client

from domain.envelope import Envelope, Json, stored_envelope
from domain.lifecycle import ExecutionSummary, apply, uuid_order
from domain.log import EventLog, ProjectedLog
from domain.vocabulary import EventName
from projections.clickhouse import connect, query_text
from projections.dashboard_views import apply_views
from projections.generations import Generations
from projections.migrations import apply_migrations
from projections.payloads import DEFAULT_INLINE_PAYLOAD_BYTES
from projections.queries import execution_header, status_view, utc
from projections.runner import ProjectionRunner
from projections.store import ClickHouseStore

Progress = Callable[[int, int], None]
"""Called with (position reached, log head) after each batch."""

ExecutionKey = tuple[UUID, UUID]
UsageRank = tuple[datetime, int, int]  # timestamp, then the event id in uuid_order
"""A terminal node event's (timestamp, event id) in ClickHouse's order: the earliest counts."""

_USAGE_EVENTS = frozenset({EventName.NODE_FULFILLED, EventName.NODE_REJECTED})
SnapshotRank = tuple[datetime, int]  # timestamp, then log position: the newest counts


def replay(
    log_: ProjectedLog,
    url: str,
    base: str,
    progress: Progress,
    *,
    batch_size: int = 5000,
    inline_limit: int = DEFAULT_INLINE_PAYLOAD_BYTES,
) -> str:
    """Build a new generation from the whole log, switch to it, and return its database
    (values over `inline_limit` in the payload store, as the live projection keeps them)."""
    generations = Generations(url, base)
    try:
        target = generations.next_database()
        client = connect(url, target)
        try:
            apply_migrations(client)
            apply_views(client)
            runner = ProjectionRunner(
                log_, ClickHouseStore(client, inline_limit), batch_size=batch_size
            )
            head = log_.max_position()
            runner.catch_up(lambda visible: progress(visible, max(head, visible)))
        finally:
            client.close()
        generations.activate(target)
        return target
    finally:
        generations.close()


@dataclass
class VerifyReport:
    """What `verify` found: executions checked and each difference, as readable lines."""

    executions_count: int = 0
    events_count: int = 0
    differences: list[str] = field(default_factory=list)


def verify(
    log_: EventLog, client: Client, progress: Progress, batch_size: int = 5000
) -> VerifyReport:
    """Compare the projections (at least as far as the log's head now) with a fresh fold.

    The fold stops at the head read first, while a live server's projections go on: spans first
    seen after it are left out of the comparison, and so are the status and usage of an
    execution with events after it (its spans up to the head are still compared).
    """
    head = log_.max_position()
    summaries: dict[tuple[UUID, UUID], ExecutionSummary] = {}
    # Each span's first position: the log is read in order, so the first one seen.
    spans: dict[ExecutionKey, dict[UUID, int]] = defaultdict(dict)
    usages: dict[ExecutionKey, dict[UUID, tuple[UsageRank, Json]]] = defaultdict(dict)
    headers = _HeaderFold()
    listed = _ListFold()
    report = VerifyReport()
    position = 0
    while position < head and (events := log_.read(after=position, limit=batch_size)):
        for event in events:
            if event.position > head:
                break
            parsed = orjson.loads(event.raw)
            envelope = stored_envelope(parsed, event.raw)
            key = (event.workspace_id, event.execution_id)
            summaries[key] = apply(
                summaries.get(key) or ExecutionSummary(event.execution_id), envelope
            )
            spans[key].setdefault(envelope.span_id, event.position)
            if envelope.name in _USAGE_EVENTS:
                _fold_usage(usages[key], envelope, parsed)
            if envelope.span_id == event.execution_id:
                headers.add(key, envelope, event.position, parsed)
                listed.add(key, envelope, event.position, parsed)
            report.events_count += 1
        position = events[-1].position
        progress(min(position, head), head)
    span_positions = _span_positions(client, head)
    changed = _changed_since(client, head)
    for key, summary in summaries.items():
        workspace_id, execution_id = key
        report.executions_count += 1
        header = execution_header(client, workspace_id, execution_id)
        view = status_view(execution_id, header)
        name = f"execution {execution_id} (workspace {workspace_id})"
        if view is None:
            report.differences.append(f"{name}: missing from the projections")
            continue
        report.differences += _span_differences(name, spans[key], span_positions.get(key, {}))
        if key in changed:
            continue  # its status and usage have moved on from the fold's
        if view.status is not summary.status:
            report.differences.append(
                f"{name}: status {view.status} in projections, {summary.status} in the log"
            )
        if view.has_conflicting_outcomes != summary.has_conflicting_outcomes:
            report.differences.append(f"{name}: conflicting outcomes flagged differently")
        report.differences += headers.differences(name, key, header)
        logged_usage = {span: usage for span, (_, usage) in usages[key].items()}
        # Compared parsed: the projection keeps the JSON re-serialised (JSONExtractRaw).
        projected_usage = {span: orjson.loads(raw) for span, raw in header["usage_rows"]}
        differing = [
            span
            for span in logged_usage.keys() | projected_usage.keys()
            if logged_usage.get(span) != projected_usage.get(span)
        ]
        if differing:
            report.differences.append(
                f"{name}: usage of {len(differing)} spans differs from the log's "
                f"(span {min(differing)} among them)"
            )
    report.differences += listed.differences(client, head)
    return report


def _span_differences(
    name: str, logged: dict[UUID, int], projected: dict[UUID, list[int]]
) -> list[str]:
    """Spans lost, added or moved from the keyset position where the log first saw them."""
    differences = []
    missing, extra = logged.keys() - projected.keys(), projected.keys() - logged.keys()
    if missing or extra:
        differences.append(
            f"{name}: {len(projected)} spans in projections, {len(logged)} in the"
            f" log ({len(missing)} missing, {len(extra)} not in the log;"
            f" span {min(missing | extra)} among them)"
        )
    moved = [span for span, first in logged.items() if projected.get(span, [first]) != [first]]
    if moved:
        differences.append(
            f"{name}: spans not at the keyset position where the log first saw them:"
            f" {len(moved)} (span {min(moved)} among them)"
        )
    return differences


def _fold_usage(
    usages: dict[UUID, tuple[UsageRank, Json]], envelope: Envelope, parsed: Json
) -> None:
    """Keep a span's earliest `usage_result`, as span_usage's argMin does (0005_span_usage)."""
    body = parsed.get("body")
    usage = body.get("usage_result") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return
    rank = (envelope.timestamp, *uuid_order(envelope.event_id))
    held = usages.get(envelope.span_id)
    if held is None or rank < held[0]:
        usages[envelope.span_id] = (rank, usage)


class _HeaderFold:
    """The root span's header as `executions` folds it (0011_execution_header): its initiated
    event's parent, the first in log order, and its newest snapshot's state by (timestamp, log
    position), kept as a digest (states can be large, and executions many)."""

    def __init__(self) -> None:
        self._parents: dict[ExecutionKey, Json] = {}
        self._snapshots: dict[ExecutionKey, tuple[SnapshotRank, bytes]] = {}

    def add(self, key: ExecutionKey, envelope: Envelope, position: int, parsed: Json) -> None:
        """Fold one event of the root span."""
        if envelope.name == EventName.WORKFLOW_INITIATED:
            self._parents.setdefault(key, parsed.get("parent"))
        elif envelope.name == EventName.WORKFLOW_SNAPSHOTTED:
            rank = (envelope.timestamp, position)
            held = self._snapshots.get(key)
            if held is None or rank > held[0]:
                body = parsed.get("body")
                state = body.get("state") if isinstance(body, dict) else None
                self._snapshots[key] = (rank, _digest(state))

    def differences(self, name: str, key: ExecutionKey, header: dict[str, Any]) -> list[str]:
        """What the projected header (execution_header.sql's row) says otherwise."""
        differences = []
        if _loads(header["parent_context"]) != self._parents.get(key):
            differences.append(f"{name}: the root's parent context differs from the log's")
        held = self._snapshots.get(key)
        if _digest(_loads(header["state"])) != (held[1] if held else _digest(None)):
            differences.append(f"{name}: the newest state differs from the log's")
        return differences


class _ListFold:
    """Where the list (migration 0013's `execution_index`) must hold each ingested execution:
    at its root span's first initiated event in log order, with that event's time and the
    workflow's name."""

    def __init__(self) -> None:
        self._first: dict[ExecutionKey, tuple[int, datetime, str]] = {}

    def add(self, key: ExecutionKey, envelope: Envelope, position: int, parsed: Json) -> None:
        """Fold one event of the root span."""
        if envelope.name == EventName.WORKFLOW_INITIATED and key not in self._first:
            body = parsed.get("body")
            definition = body.get("workflow_definition") if isinstance(body, dict) else None
            name = definition.get("name") if isinstance(definition, dict) else None
            self._first[key] = (position, envelope.timestamp, name if isinstance(name, str) else "")

    def differences(self, client: Client, head: int) -> list[str]:
        """Each execution listed otherwise than the log says (runs are listed from their
        request, which status and detail already check)."""
        listed: dict[ExecutionKey, list[tuple[int, datetime, str]]] = {}
        runs: set[ExecutionKey] = set()
        result = client.query(query_text("index_rows"), parameters={"head": head})
        for workspace_id, execution_id, rows, is_run in result.result_rows:
            key = (workspace_id, execution_id)
            if is_run:
                runs.add(key)
            listed[key] = [(p, utc(at) or at, name) for p, at, name in rows]
        differences = []
        for key, first in self._first.items():
            if key in runs:
                continue
            name = f"execution {key[1]} (workspace {key[0]})"
            rows = listed.get(key, [])
            if first not in rows:
                differences.append(
                    f"{name}: the list does not hold it at its first initiated event "
                    f"(position {first[0]}, {first[1].isoformat()}, workflow {first[2]!r})"
                )
        for key, rows in listed.items():
            if rows and key not in self._first and key not in runs:
                differences.append(
                    f"execution {key[1]} (workspace {key[0]}): listed, but the log has no "
                    "initiated event of its root span"
                )
        return differences


def _loads(raw: str) -> Json:
    # Compared parsed: the projection keeps the JSON re-serialised (JSONExtractRaw), not as sent.
    return orjson.loads(raw) if raw else None


def _digest(value: Json) -> bytes:
    """Equal for JSON values that are equal once parsed, whatever their text."""
    return hashlib.blake2b(orjson.dumps(_canonical(value), option=orjson.OPT_SORT_KEYS)).digest()


def _canonical(value: Json) -> Json:
    # JSONExtractRaw writes an integral number without its fraction (1.0 as 1): the same
    # value, which Python compares equal but orjson writes differently.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _span_positions(client: Client, head: int) -> dict[ExecutionKey, dict[UUID, list[int]]]:
    """Each projected span's keyset positions, sorted: one, unless something went wrong.

    Spans first seen after `head` are left out: the projection may have gone further than the
    fold, which stops there.
    """
    positions: dict[ExecutionKey, dict[UUID, list[int]]] = defaultdict(dict)
    rows = client.query(query_text("span_positions"), parameters={"head": head}).result_rows
    for ws, ex, span, found in rows:
        positions[(ws, ex)][span] = sorted(found)
    return positions


def _changed_since(client: Client, head: int) -> set[ExecutionKey]:
    rows = client.query(query_text("executions_changed_since"), parameters={"head": head})
    return {(ws, ex) for ws, ex in rows.result_rows}
