"""A parsed filter as a ClickHouse boolean expression whose every value is a server parameter.

    >>> compile_filter(parse_filter('status = "REJECTED"')).sql
    'ifNull(status = {f0:String}, 0)'

Semantics are two-valued: a comparison on a missing value (a NULL column, a metadata key that
is absent or holds another JSON type) is false, and NOT, `!=`, NOT IN and NOT BETWEEN are the
plain negation of the positive comparison, so `x != v` is TRUE where x is missing. Each
comparison is wrapped in `ifNull(..., 0)`, which keeps NULL out of AND, OR and NOT.
CONTAINS is a case-sensitive substring test (`position`, not LIKE: no pattern escaping).
Metadata numbers compare as Float64, whichever JSON number type holds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from projections._filter_ast import NEGATED, And, Comparison, Expr, Not, Op, Or, Value
from projections._filter_fields import FIELDS, FieldKind

# The contract with the list query: the column (of the relation it filters) behind each field.
COLUMNS: dict[str, str] = {
    "status": "status",
    "workflow": "workflow",
    "deployment": "deployment",
    "release_tag": "release_tag",
    "release_id": "release_id",
    "external_id": "external_id",
    "metadata": "metadata",
    "started_at": "started_at",
    "ended_at": "ended_at",
    "duration_ms": "duration_ms",
    "error.code": "error_code",
    "error.message": "error_message",
    "model": "models",
    "tokens": "tokens",
    "cost": "cost",
    "trace_id": "trace_id",
    "has_actuals": "has_actuals",
}

_TYPES: dict[FieldKind, str] = {
    FieldKind.STATUS: "String",
    FieldKind.STRING: "String",
    FieldKind.MESSAGE: "String",
    FieldKind.MODELS: "String",
    FieldKind.UUID: "UUID",
    FieldKind.TIME: "DateTime64(6, 'UTC')",
    FieldKind.FLOAT: "Float64",
    FieldKind.INTEGER: "UInt64",
    FieldKind.BOOLEAN: "UInt8",
}
_ORDERING = {Op.EQ: "=", Op.LT: "<", Op.LE: "<=", Op.GT: ">", Op.GE: ">="}
# JSONType's names; JSONExtractString on any other type than String yields '' (a default).
_JSON_NUMBER = "IN ('Int64', 'UInt64', 'Double')"


@dataclass(frozen=True)
class SqlFilter:
    """A ClickHouse boolean expression and the values of its `{name:Type}` placeholders."""

    sql: str
    parameters: dict[str, Any]


def compile_filter(expr: Expr | None, prefix: str = "f") -> SqlFilter:
    """The SQL of `expr` ("1" for None); parameters are named `prefix` + a number."""
    if expr is None:
        return SqlFilter("1", {})
    compiler = _Compiler(prefix)
    return SqlFilter(compiler.expr(expr), compiler.parameters)


def compile_term(comparison: Comparison, prefix: str) -> SqlFilter | None:
    """A positive comparison compiled bare, for the top level of a WHERE clause, where NULL
    counts as false already (so no `ifNull` guard, which would hide the comparison from the
    primary key and the skip indexes); None for a negated one (`!=`, NOT IN, NOT BETWEEN),
    which is true on a missing value and cannot be decided that way."""
    if comparison.op in NEGATED:
        return None
    compiler = _Compiler(prefix)
    return SqlFilter(compiler.comparison(comparison, comparison.op), compiler.parameters)


@dataclass
class _Compiler:
    prefix: str
    parameters: dict[str, Any] = field(default_factory=dict)

    def param(self, value: object, type_: str) -> str:
        name = f"{self.prefix}{len(self.parameters)}"
        self.parameters[name] = value
        return f"{{{name}:{type_}}}"

    def expr(self, expr: Expr) -> str:
        if isinstance(expr, And):
            return "(" + " AND ".join(self.expr(operand) for operand in expr.operands) + ")"
        if isinstance(expr, Or):
            return "(" + " OR ".join(self.expr(operand) for operand in expr.operands) + ")"
        if isinstance(expr, Not):
            return f"(NOT {self.expr(expr.operand)})"
        positive = NEGATED.get(expr.op)
        if positive is None:
            return f"ifNull({self.comparison(expr, expr.op)}, 0)"
        return f"(NOT ifNull({self.comparison(expr, positive)}, 0))"

    def comparison(self, comparison: Comparison, op: Op) -> str:
        """The positive comparison `op` (never a negated one) over the field's column."""
        kind = FIELDS[comparison.field]
        column = COLUMNS[comparison.field]
        values = comparison.values
        if kind is FieldKind.METADATA:
            assert comparison.key is not None
            return self.metadata(column, comparison.key, op, values)
        type_ = _TYPES[kind]
        if kind is FieldKind.BOOLEAN:
            values = tuple(int(bool(value)) for value in values)
        if kind is FieldKind.MODELS:
            return self.models(column, op, values)
        return self.scalar(column, type_, op, values)

    def scalar(self, column: str, type_: str, op: Op, values: tuple[Value, ...]) -> str:
        if op is Op.IN:
            # `has`, not IN: IN hashes, so -0.0 IN [0.0] is 0 where -0.0 = 0.0 is 1.
            return f"has({self.param(list(values), f'Array({type_})')}, {column})"
        if op is Op.BETWEEN:
            low, high = (self.param(value, type_) for value in values)
            return f"{column} >= {low} AND {column} <= {high}"
        if op is Op.CONTAINS:
            return f"position({column}, {self.param(values[0], type_)}) > 0"
        return f"{column} {_ORDERING[op]} {self.param(values[0], type_)}"

    def models(self, column: str, op: Op, values: tuple[Value, ...]) -> str:
        """Any of the execution's span models satisfies the comparison."""
        if op is Op.IN:
            return f"hasAny({column}, {self.param(list(values), 'Array(String)')})"
        if op is Op.CONTAINS:
            needle = self.param(values[0], "String")
            return f"arrayExists(m -> position(m, {needle}) > 0, {column})"
        return f"has({column}, {self.param(values[0], 'String')})"

    def metadata(self, column: str, key: str, op: Op, values: tuple[Value, ...]) -> str:
        """The value at `key` has the literal's JSON type and compares true against it."""
        at = f"{column}[{self.param(key, 'String')}]"
        kind = f"JSONType({at})"
        if op is Op.IN:
            return self.metadata_in(at, kind, values)
        if op is Op.CONTAINS:
            needle = self.param(values[0], "String")
            return f"{kind} = 'String' AND position(JSONExtractString({at}), {needle}) > 0"
        if op is Op.BETWEEN:
            low, high = (self.param(value, "Float64") for value in values)
            number = f"JSONExtractFloat({at})"
            return f"{kind} {_JSON_NUMBER} AND {number} >= {low} AND {number} <= {high}"
        value = values[0]
        if isinstance(value, bool):
            return f"{kind} = 'Bool' AND JSONExtractBool({at}) = {self.param(value, 'Bool')}"
        if isinstance(value, str):
            return f"{kind} = 'String' AND JSONExtractString({at}) = {self.param(value, 'String')}"
        number = self.param(value, "Float64")
        return f"{kind} {_JSON_NUMBER} AND JSONExtractFloat({at}) {_ORDERING[op]} {number}"

    def metadata_in(self, at: str, kind: str, values: tuple[Value, ...]) -> str:
        groups: list[str] = []
        for type_test, extract, type_, member in _JSON_GROUPS:
            chosen = [value for value in values if member(value)]
            if chosen:
                array = self.param(chosen, f"Array({type_})")
                groups.append(f"({kind} {type_test} AND has({array}, {extract}({at})))")
        return "(" + " OR ".join(groups) + ")"


# For IN on metadata: the literals of each JSON type, tested against values of that type only.
_JSON_GROUPS: tuple[tuple[str, str, str, Callable[[Value], bool]], ...] = (
    ("= 'String'", "JSONExtractString", "String", lambda value: isinstance(value, str)),
    ("= 'Bool'", "JSONExtractBool", "Bool", lambda value: isinstance(value, bool)),
    (_JSON_NUMBER, "JSONExtractFloat", "Float64", lambda value: isinstance(value, float)),
)
