"""The fields a filter may name, the operators each takes, and how its literals are checked."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from uuid import UUID

from domain.lifecycle import ExecutionStatus
from projections._filter_ast import Op, Value
from projections._filter_lexer import Kind, Token

METADATA = "metadata"


class FieldKind(Enum):
    """What a field holds, which decides its operators, its literals and its SQL."""

    STATUS = "status"
    STRING = "string"
    MESSAGE = "message"
    UUID = "uuid"
    TIME = "time"
    FLOAT = "float"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    MODELS = "models"
    METADATA = "metadata"


FIELDS: dict[str, FieldKind] = {
    "status": FieldKind.STATUS,
    "workflow": FieldKind.STRING,
    "deployment": FieldKind.STRING,
    "release_tag": FieldKind.STRING,
    "release_id": FieldKind.UUID,
    "external_id": FieldKind.STRING,
    "started_at": FieldKind.TIME,
    "ended_at": FieldKind.TIME,
    "duration_ms": FieldKind.FLOAT,
    "error.code": FieldKind.STRING,
    "error.message": FieldKind.MESSAGE,
    "model": FieldKind.MODELS,
    "tokens": FieldKind.INTEGER,
    "cost": FieldKind.FLOAT,
    "trace_id": FieldKind.UUID,
    "has_actuals": FieldKind.BOOLEAN,
    METADATA: FieldKind.METADATA,
}

_EQUALITY = frozenset({Op.EQ, Op.NE})
_MEMBERSHIP = _EQUALITY | {Op.IN, Op.NOT_IN}
_ORDER = _EQUALITY | {Op.LT, Op.LE, Op.GT, Op.GE, Op.BETWEEN, Op.NOT_BETWEEN}
# The operators that take only numbers on metadata (a JSON value has no order otherwise).
NUMERIC_ONLY = frozenset(_ORDER - _EQUALITY)

OPERATORS: dict[FieldKind, frozenset[Op]] = {
    FieldKind.STATUS: _MEMBERSHIP,
    FieldKind.STRING: _MEMBERSHIP | {Op.CONTAINS},
    FieldKind.MESSAGE: _EQUALITY | {Op.CONTAINS},
    FieldKind.UUID: _MEMBERSHIP,
    FieldKind.TIME: _ORDER,
    FieldKind.FLOAT: _ORDER | _MEMBERSHIP,
    FieldKind.INTEGER: _ORDER | _MEMBERSHIP,
    FieldKind.BOOLEAN: _EQUALITY,
    FieldKind.MODELS: _MEMBERSHIP | {Op.CONTAINS},
    FieldKind.METADATA: _ORDER | _MEMBERSHIP | {Op.CONTAINS},
}

STATUSES = tuple(status.value for status in ExecutionStatus)
# DateTime64's range in ClickHouse: a time outside it cannot be stored, nor safely compared.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
# `tokens` is a UInt64 column but a JSON integer is refused past 2^63 - 1 at ingest.
TOKENS_LIMIT = 2**63

_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class LiteralError(ValueError):
    """A literal of the wrong type for its field; the parser adds where it stands."""


def check_literal(kind: FieldKind, name: str, op: Op, token: Token) -> Value:
    """The value of `token` as a literal for field `name` under `op`, or LiteralError."""
    if kind is FieldKind.METADATA:
        return _metadata_literal(name, op, token)
    if kind is FieldKind.STATUS:
        text = _string(token, name, "a status in quotes")
        if text not in STATUSES:
            raise LiteralError(f"{name} must be one of {', '.join(STATUSES)}")
        return text
    if kind in (FieldKind.STRING, FieldKind.MESSAGE, FieldKind.MODELS):
        return _string(token, name, "a string in quotes")
    if kind is FieldKind.UUID:
        text = _string(token, name, "a UUID in quotes")
        if not _UUID.fullmatch(text):
            raise LiteralError(f"not a UUID: {text!r}")
        return UUID(text)
    if kind is FieldKind.TIME:
        return parse_time(_string(token, name, "an ISO-8601 time in quotes"))
    if kind is FieldKind.BOOLEAN:
        if token.kind is Kind.NAME and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        raise LiteralError(f"{name} takes true or false")
    if kind is FieldKind.INTEGER:
        return _tokens(token, name)
    return _number(token, name)


def _string(token: Token, name: str, what: str) -> str:
    if token.kind is not Kind.STRING:
        raise LiteralError(f"{name} takes {what}")
    return token.parts[0]


def _number(token: Token, name: str) -> float:
    if token.kind is not Kind.NUMBER:
        raise LiteralError(f"{name} takes a number")
    try:
        value = float(token.text)
    except (OverflowError, ValueError):
        value = math.inf
    if not math.isfinite(value):
        raise LiteralError(f"number out of range: {token.text}")
    return value


def _tokens(token: Token, name: str) -> int:
    if token.kind is not Kind.NUMBER or not re.fullmatch(r"[+-]?\d+", token.text):
        raise LiteralError(f"{name} takes an integer")
    value = int(token.text)
    if not 0 <= value < TOKENS_LIMIT:
        raise LiteralError(f"{name} takes an integer from 0 to 2^63 - 1")
    return value


def _metadata_literal(name: str, op: Op, token: Token) -> Value:
    if op is Op.CONTAINS:
        return _string(token, name, "a string in quotes after CONTAINS")
    if op in NUMERIC_ONLY:
        if token.kind is not Kind.NUMBER:
            raise LiteralError(f"{op.value!r} on {name} takes a number")
        return _number(token, name)
    if token.kind is Kind.STRING:
        return token.parts[0]
    if token.kind is Kind.NUMBER:
        return _number(token, name)
    if token.kind is Kind.NAME and token.text.lower() in ("true", "false"):
        return token.text.lower() == "true"
    raise LiteralError(f"{name} takes a string, a number, true or false")


def parse_time(text: str) -> datetime:
    """An ISO-8601 date or date-time as a UTC datetime; one without an offset is UTC."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise LiteralError(f"not an ISO-8601 time: {text!r}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if fraction is not None and len(fraction) > 6:
        raise LiteralError(f"a time has at most 6 fractional digits (microseconds): {text!r}")
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=_offset(offset),
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        raise LiteralError(f"not an ISO-8601 time: {text!r}") from None
    if not EARLIEST <= moment <= LATEST:
        raise LiteralError(f"time out of range (1900-01-01 to 2299-12-31 UTC): {text!r}")
    return moment


def _offset(text: str | None) -> timezone:
    if text is None or text in "Zz":
        return UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(text)
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))
