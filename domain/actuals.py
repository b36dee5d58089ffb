"""Actuals: quality feedback on an execution's outputs, kept as events in the log.

Each execution that received feedback has one `Actuals` aggregate (its id derived from the
execution's), so submitting is an append to that stream and reading the latest feedback is a
point read of it: the status and detail views show the newest actual per output, whoever
submitted it and in whatever order they arrived.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from domain.errors import FieldError, InvalidInputs
from domain.log.ledger import Ledger

_ACTUALS = uuid5(NAMESPACE_URL, "https://runledger.dev/actuals")
OUTPUT_TYPES = frozenset({"STRING", "JSON", "CHAT_HISTORY"})
_FIELDS = frozenset(
    {
        "output_id",
        "output_key",
        "quality",
        "desired_output_value",
        "output_type",
        "metadata",
        "timestamp",
    }
)
_ATTEMPTS = 5

JsonObject = dict[str, Any]


class Actuals(Aggregate):
    """The feedback submitted for one execution."""

    @event("Opened")
    def __init__(self, workspace_id: UUID, execution_id: UUID) -> None:
        self.workspace_id = workspace_id
        self.execution_id = execution_id
        self.submitted: list[JsonObject] = []

    @staticmethod
    def create_id(workspace_id: UUID, execution_id: UUID) -> UUID:
        """One stream per execution and workspace."""
        return actuals_stream_id(workspace_id, execution_id)

    @event("Submitted")
    def submit(self, actuals: list[JsonObject]) -> None:
        """Record a batch of actuals (each stamped with its time by the caller)."""
        self.submitted.extend(actuals)

    def latest(self) -> list[JsonObject]:
        """The newest actual per output (by its timestamp, then by submission order)."""
        return latest_actuals(enumerate(self.submitted))


def latest_actuals(submitted: Iterable[tuple[Any, JsonObject]]) -> list[JsonObject]:
    """The newest of (submission order, actual) per output, by its timestamp, then by order;
    oldest first. The projection of actuals reads them with the same rule."""
    newest: dict[str, tuple[float, Any, JsonObject]] = {}
    for order, actual in submitted:
        key = str(actual.get("output_key") or actual.get("output_id"))
        candidate = (float(actual["timestamp"]), order, actual)
        if key not in newest or candidate[:2] >= newest[key][:2]:
            newest[key] = candidate
    return [item[2] for item in sorted(newest.values(), key=lambda item: item[:2])]


def actuals_stream_id(workspace_id: UUID, execution_id: UUID) -> UUID:
    """The id of an execution's actuals stream."""
    return uuid5(_ACTUALS, f"{workspace_id}/{execution_id}")


def check_actuals(items: Any, now: float) -> list[JsonObject]:
    """The actuals of a request, each with a timestamp; raises naming every bad field."""
    if not isinstance(items, list) or not items:
        raise InvalidInputs([FieldError(None, "actuals", "must be a non-empty list")])
    errors: list[FieldError] = []
    checked = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(FieldError(index, "actuals", "must be an object"))
            continue
        for name in sorted(set(item) - _FIELDS):
            errors.append(FieldError(index, f"actuals.{name}", "is not a field of an actual"))
        for name in ("output_id", "output_key"):
            if item.get(name) is not None and not isinstance(item[name], str):
                errors.append(FieldError(index, f"actuals.{name}", "must be a string"))
        if not any(isinstance(item.get(k), str) and item[k] for k in ("output_id", "output_key")):
            errors.append(
                FieldError(index, "actuals.output_key", "output_key or output_id is required")
            )
        quality = item.get("quality")
        if quality is not None and (
            isinstance(quality, bool)
            or not isinstance(quality, int | float)
            or not 0 <= quality <= 1
        ):
            errors.append(FieldError(index, "actuals.quality", "must be a number from 0 to 1"))
        output_type = item.get("output_type")
        # Not a set lookup of any value: an object or a list there raised (a 500).
        if output_type is not None and not (
            isinstance(output_type, str) and output_type in OUTPUT_TYPES
        ):
            errors.append(
                FieldError(index, "actuals.output_type", f"must be one of {sorted(OUTPUT_TYPES)}")
            )
        timestamp = item.get("timestamp")
        if timestamp is not None and (
            isinstance(timestamp, bool)
            or not isinstance(timestamp, int | float)
            or not math.isfinite(timestamp)
        ):
            errors.append(FieldError(index, "actuals.timestamp", "must be epoch seconds"))
        metadata = item.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            errors.append(FieldError(index, "actuals.metadata", "must be an object"))
        checked.append({**item, "timestamp": timestamp if timestamp is not None else now})
    if errors:
        raise InvalidInputs(errors)
    return checked


class ActualsLog:
    """Submits and reads actuals in the log."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def submit(self, workspace_id: UUID, execution_id: UUID, actuals: Sequence[JsonObject]) -> None:
        """Append the actuals to the execution's stream (created on first use).

        Two submissions racing for one execution collide on the stream's next version; the
        loser reads the winner's and appends after it.
        """
        for attempt in range(_ATTEMPTS):
            stream = self._get(workspace_id, execution_id) or Actuals(workspace_id, execution_id)
            stream.submit(list(actuals))
            try:
                self._ledger.save(stream)
                return
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise

    def latest(self, workspace_id: UUID, execution_id: UUID) -> list[JsonObject] | None:
        """The newest actual per output, or None when none was ever submitted."""
        stream = self._get(workspace_id, execution_id)
        return stream.latest() if stream is not None else None

    def _get(self, workspace_id: UUID, execution_id: UUID) -> Actuals | None:
        try:
            stream: Actuals = self._ledger.repository.get(
                Actuals.create_id(workspace_id, execution_id)
            )
        except AggregateNotFoundError:
            return None
        return stream
