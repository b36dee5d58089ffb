"""A parsed filter evaluated in Python over one row: the reference the SQL must agree with.

A row maps the columns of filter_sql.COLUMNS to Python values: str, UUID or None, tz-aware
datetime or None, float or None, int, bool, list[str] for `models`, a dict for `metadata`.
The semantics are filter_sql's, quirks included (see _json_value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from projections._filter_ast import NEGATED, And, Comparison, Expr, Not, Op, Or, Value
from projections._filter_fields import FIELDS, FieldKind
from projections.filter_sql import COLUMNS

_INT64_MIN = -(2**63)
_UINT64_END = 2**64


def matches(expr: Expr | None, row: Mapping[str, Any]) -> bool:
    """Whether `row` satisfies `expr` (every row satisfies None)."""
    if expr is None:
        return True
    if isinstance(expr, And):
        return all(matches(operand, row) for operand in expr.operands)
    if isinstance(expr, Or):
        return any(matches(operand, row) for operand in expr.operands)
    if isinstance(expr, Not):
        return not matches(expr.operand, row)
    positive = NEGATED.get(expr.op)
    if positive is None:
        return _holds(expr, expr.op, row)
    return not _holds(expr, positive, row)


def _holds(comparison: Comparison, op: Op, row: Mapping[str, Any]) -> bool:
    """The positive comparison `op`; false on a missing value."""
    kind = FIELDS[comparison.field]
    actual = row[COLUMNS[comparison.field]]
    values = comparison.values
    if kind is FieldKind.METADATA:
        assert comparison.key is not None
        return _metadata_holds(actual, comparison.key, op, values)
    if kind is FieldKind.MODELS:
        return any(_compare(model, op, values) for model in actual)
    if kind is FieldKind.BOOLEAN:
        return _compare(int(actual), op, tuple(int(bool(value)) for value in values))
    if actual is None:
        return False
    return _compare(actual, op, values)


def _compare(actual: Any, op: Op, values: tuple[Value, ...]) -> bool:
    """`actual op values` for a present value of the literals' type."""
    first = values[0]
    if op is Op.IN:
        return any(actual == value for value in values)
    if op is Op.BETWEEN:
        return bool(first <= actual <= values[1])
    if op is Op.CONTAINS:
        return isinstance(first, str) and first in actual
    result = {
        Op.EQ: lambda: actual == first,
        Op.LT: lambda: actual < first,
        Op.LE: lambda: actual <= first,
        Op.GT: lambda: actual > first,
        Op.GE: lambda: actual >= first,
    }[op]()
    return bool(result)


def _metadata_holds(
    metadata: Mapping[str, Any], key: str, op: Op, values: tuple[Value, ...]
) -> bool:
    """The value at `key` has the type of a literal and compares true against it."""
    present = _json_value(metadata.get(key))
    if present is None:
        return False
    if op is Op.IN:
        return any(_same_type(present, value) and present == value for value in values)
    if not all(_same_type(present, value) for value in values):
        return False
    return _compare(present, op, values)


def _same_type(present: str | float | bool, literal: Value) -> bool:
    # bool is an int subclass: a JSON true is no number, and a number no boolean.
    if isinstance(present, bool) or isinstance(literal, bool):
        return isinstance(present, bool) and isinstance(literal, bool)
    return type(present) is type(literal)


def _json_value(value: Any) -> str | float | bool | None:
    """A metadata value as ClickHouse's JSON functions see it: a string, a float or a bool.

    ClickHouse types an integer outside Int64 and UInt64 as String (its digits), and reads
    every number as Float64; objects, arrays and null compare with nothing.
    """
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return float(value) if _INT64_MIN <= value < _UINT64_END else str(value)
    if isinstance(value, float):
        return value
    return None
