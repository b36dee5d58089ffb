"""The filter language's values: its syntax tree and its one error (see filter_grammar.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

# A literal after type checking: a time is a tz-aware UTC datetime, a UUID a UUID, a number on
# a float field (and on metadata) a float, `tokens` an int, true/false a bool.
Value = str | int | float | bool | datetime | UUID


class Op(StrEnum):
    """A comparison operator, spelt as the grammar writes it."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "IN"
    NOT_IN = "NOT IN"
    BETWEEN = "BETWEEN"
    NOT_BETWEEN = "NOT BETWEEN"
    CONTAINS = "CONTAINS"


# Each of these is the plain negation of the other's positive comparison.
NEGATED: dict[Op, Op] = {Op.NE: Op.EQ, Op.NOT_IN: Op.IN, Op.NOT_BETWEEN: Op.BETWEEN}


@dataclass(frozen=True)
class Comparison:
    """`field op values`: one value, or the IN list, or BETWEEN's two bounds (low, high)."""

    field: str
    op: Op
    values: tuple[Value, ...]
    # The key of `metadata.<key>`; None for every other field.
    key: str | None = None


@dataclass(frozen=True)
class And:
    """True when every operand is (two or more operands)."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """True when any operand is (two or more operands)."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    """The plain negation of its operand (two-valued: a comparison is never unknown)."""

    operand: Expr


Expr = Comparison | And | Or | Not


class FilterSyntaxError(ValueError):
    """A filter expression the grammar or the field types refuse, with where and why."""

    def __init__(self, position: int, token: str, reason: str) -> None:
        super().__init__(f"q: at position {position} ({token!r}): {reason}")
        self.position = position
        self.token = token
        self.reason = reason
