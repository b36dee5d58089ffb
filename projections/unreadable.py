"""Stored values a read cannot serve in its shape, and how the reads tell.

Ingest refuses what the reads cannot serve, but the log keeps what older versions accepted
(a `usage_result` of the wrong shape, an `error` that is a string, outputs nested past what a
JSON writer writes), and a replay brings it back. A read never fails on such a value: it
leaves the value out and names it in the answer (`unreadable`), so one bad event cannot make
an execution unreadable for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from domain.envelope import nests_too_deeply
from domain.errors import FieldError
from domain.usage import check_usage_result

# A value served inside an answer sits a few levels down (the body, a list, a typed value):
# deeper than this it could not be written out (orjson writes 254 levels at most).
_SERVABLE_LEVELS = 240


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stored value left out of an answer: where it was, why it could not be served."""

    field: str
    reason: str
    span_id: UUID | None = None

    def as_json(self) -> dict[str, str]:
        """The entry of an answer's `unreadable` list."""
        entry = {"field": self.field, "reason": self.reason}
        if self.span_id is not None:
            entry["span_id"] = str(self.span_id)
        return entry


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def stored_object(
    raw: str, field: str, found: list[Unreadable], span_id: UUID | None = None
) -> dict[str, Any] | None:
    """Stored JSON text that must be an object, parsed; None when absent or unservable (then
    noted in `found`)."""
    if not raw or raw == "null":
        return None
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        found.append(Unreadable(field, f"is stored as {_kind(value)}, not an object", span_id))
        return None
    if ("{" in raw or "[" in raw) and nests_too_deeply(value, _SERVABLE_LEVELS):
        reason = f"nests deeper than {_SERVABLE_LEVELS} levels, more than a JSON writer writes"
        found.append(Unreadable(field, reason, span_id))
        return None
    return value


def object_text(raw: str, field: str, found: list[Unreadable]) -> str:
    """Stored JSON text that must be an object, kept as text (it is served as it is, never
    parsed: a workflow's state can be megabytes); "" when absent or not an object."""
    if not raw or raw == "null":
        return ""
    if raw.lstrip().startswith("{"):
        return raw
    found.append(Unreadable(field, f"is stored as {_kind(orjson.loads(raw))}, not an object"))
    return ""


def workflow_error(raw: str, field: str, found: list[Unreadable]) -> dict[str, Any] | None:
    """A stored rejection's `error` as Vellum's WorkflowError reads it (a string `message` and
    `code`), or None."""
    error = stored_object(raw, field, found)
    if error is None:
        return None
    for key in ("message", "code"):
        if not isinstance(error.get(key), str):
            found.append(Unreadable(f"{field}.{key}", "is missing or not a string"))
            return None
    return error


def usable_usage(usage_rows: Mapping[UUID, str]) -> tuple[dict[UUID, str], list[Unreadable]]:
    """The spans' stored `usage_result`s that ingest's own check accepts, and a finding for
    each way the others fail it."""
    kept: dict[UUID, str] = {}
    found: list[Unreadable] = []
    for span_id, raw in usage_rows.items():
        reasons: list[FieldError] = []
        check_usage_result(orjson.loads(raw), None, reasons)
        if reasons:
            found.extend(Unreadable(r.field, r.reason, span_id) for r in reasons)
        else:
            kept[span_id] = raw
    return kept, found
