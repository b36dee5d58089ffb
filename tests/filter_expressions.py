"""Random filter expressions and rows for the filter's property tests: each expression comes
as its syntax tree and its text (rendered with varied quoting, spacing and time zones), with
literals drawn partly from the rows' own values so that comparisons often hold."""

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from projections._filter_fields import NUMERIC_ONLY, OPERATORS, STATUSES, FieldKind
from projections.filter_grammar import (
    And,
    Comparison,
    Expr,
    Not,
    Op,
    Or,
    Value,
)
from projections.filter_sql import COLUMNS

# Small pools so that comparisons often hit; odd values so that escaping and types are tried.
STRING_POOL = ["", "a", "ab", "A", "é", "a b", 'x"y', "it's", "\\", "中文", "🙂", "a\x00b", "3"]
STRINGS = st.one_of(st.sampled_from([*STRING_POOL, str(2**64)]), st.text(max_size=4))
UUIDS = [uuid.UUID(int=n * 0x1111_0000_0000_4000_8000_0000_0000_0001) for n in range(1, 4)]
TIME_POOL = [
    datetime(2026, 12, 1, tzinfo=UTC),
    datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 12, 2, tzinfo=UTC),
    datetime(1900, 1, 1, tzinfo=UTC),
    datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]
TIMES = st.one_of(
    st.sampled_from(TIME_POOL),
    st.datetimes(datetime(1900, 1, 2), datetime(2299, 12, 30)).map(lambda t: t.replace(tzinfo=UTC)),
)
FLOAT_POOL = [0.0, -0.0, 1.0, 2.5, -3.0, 0.1, 0.30000000000000004, 1e300, 5e-324, 2.0**53 + 2]
FLOATS = st.one_of(st.sampled_from(FLOAT_POOL), st.floats(allow_nan=False, allow_infinity=False))
TOKEN_POOL = [0, 1, 1000, 2**53 + 1, 2**63 - 1]
TOKENS = st.one_of(st.sampled_from(TOKEN_POOL), st.integers(0, 2**63 - 1))
KEYS = st.sampled_from(["a", "b", "tier", "a b", "é", "", "x.y", "1", "my-key"])
JSON_INTS = st.sampled_from([0, -1, 3, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | JSON_INTS | st.integers(-(2**70), 2**70) | FLOATS | STRINGS,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(KEYS, inner, max_size=2),
    max_leaves=4,
)

COLUMN_TYPES = {
    "id": "UInt32",
    "status": "String",
    "workflow": "String",
    "deployment": "String",
    "release_tag": "String",
    "release_id": "Nullable(UUID)",
    "trace_id": "Nullable(UUID)",
    "external_id": "Nullable(String)",
    # As execution_index keeps it: each top-level key's value as JSON text.
    "metadata": "Map(String, String)",
    "started_at": "DateTime64(6, 'UTC')",
    "ended_at": "Nullable(DateTime64(6, 'UTC'))",
    "duration_ms": "Nullable(Float64)",
    "error_code": "Nullable(String)",
    "error_message": "Nullable(String)",
    "models": "Array(String)",
    "tokens": "UInt64",
    "cost": "Float64",
    "has_actuals": "UInt8",
}

ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(STATUSES),
            "workflow": STRINGS,
            "deployment": STRINGS,
            "release_tag": STRINGS,
            "release_id": st.none() | st.sampled_from(UUIDS),
            "trace_id": st.none() | st.sampled_from(UUIDS),
            "external_id": st.none() | STRINGS,
            "metadata": st.dictionaries(KEYS, JSON_VALUES, max_size=4),
            "started_at": TIMES,
            "ended_at": st.none() | TIMES,
            "duration_ms": st.none() | FLOATS,
            "error_code": st.none() | STRINGS,
            "error_message": st.none() | STRINGS,
            "models": st.lists(STRINGS, max_size=3, unique=True),
            "tokens": TOKENS,
            "cost": FLOATS,
            "has_actuals": st.booleans(),
        }
    ),
    max_size=25,
)

FIELD_KINDS = {
    name: kind
    for name, kind in (
        ("status", FieldKind.STATUS),
        ("workflow", FieldKind.STRING),
        ("deployment", FieldKind.STRING),
        ("release_tag", FieldKind.STRING),
        ("external_id", FieldKind.STRING),
        ("error.code", FieldKind.STRING),
        ("error.message", FieldKind.MESSAGE),
        ("release_id", FieldKind.UUID),
        ("trace_id", FieldKind.UUID),
        ("started_at", FieldKind.TIME),
        ("ended_at", FieldKind.TIME),
        ("duration_ms", FieldKind.FLOAT),
        ("cost", FieldKind.FLOAT),
        ("tokens", FieldKind.INTEGER),
        ("has_actuals", FieldKind.BOOLEAN),
        ("model", FieldKind.MODELS),
        ("metadata", FieldKind.METADATA),
    )
}


def literals(kind: FieldKind, op: Op, seen: list[Value]) -> st.SearchStrategy[Value]:
    """Well-typed literals for a field of `kind` under `op`, often one the rows hold (`seen`)."""
    strategies: dict[FieldKind, st.SearchStrategy[Value]] = {
        FieldKind.STATUS: st.sampled_from(STATUSES),
        FieldKind.STRING: STRINGS,
        FieldKind.MESSAGE: STRINGS,
        FieldKind.MODELS: STRINGS,
        FieldKind.UUID: st.sampled_from(UUIDS),
        FieldKind.TIME: TIMES,
        FieldKind.FLOAT: FLOATS,
        FieldKind.INTEGER: TOKENS,
        FieldKind.BOOLEAN: st.booleans(),
    }
    if kind is not FieldKind.METADATA:
        fresh = strategies[kind]
    elif op is Op.CONTAINS:
        fresh = STRINGS
    elif op in NUMERIC_ONLY:
        fresh = FLOATS
    else:
        fresh = st.one_of(STRINGS, FLOATS, st.booleans())
    fits = [value for value in seen if _fits(kind, op, value)]
    return st.one_of(fresh, st.sampled_from(fits)) if fits else fresh


def _fits(kind: FieldKind, op: Op, value: Value) -> bool:
    if kind is not FieldKind.METADATA:
        return True
    if op is Op.CONTAINS:
        return isinstance(value, str)
    if op in NUMERIC_ONLY:
        return isinstance(value, float)
    return True


def seen_values(rows: list[dict[str, Any]]) -> dict[str, list[Value]]:
    """For each field, literals equal to some row's value; "metadata:KEY" holds KEY's."""
    seen: dict[str, list[Value]] = {field: [] for field in FIELD_KINDS}
    for row in rows:
        for field in FIELD_KINDS:
            value = row[COLUMNS[field]]
            if field == "model":
                seen[field].extend(value)
            elif field == "metadata":
                for key, inner in value.items():
                    seen.setdefault(f"metadata:{key}", []).extend(_json_literals(inner))
            elif value is not None:
                seen[field].append(value)
    return seen


def _json_literals(value: Any) -> list[Value]:
    if isinstance(value, dict):
        return [literal for inner in value.values() for literal in _json_literals(inner)]
    if isinstance(value, list):
        return [literal for inner in value for literal in _json_literals(inner)]
    if isinstance(value, bool | str | float):
        return [value]
    if isinstance(value, int):
        # Both readings of an integer: as a number, and its digits as a string.
        return [float(value), str(value)]
    return []


def render_string(draw: st.DrawFn, text: str) -> str:
    quote = draw(st.sampled_from(["'", '"']))
    return quote + text.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def render_value(draw: st.DrawFn, value: Value) -> str:
    if isinstance(value, bool):
        return draw(st.sampled_from(["true", "TRUE", "True"] if value else ["false", "FALSE"]))
    if isinstance(value, str):
        return render_string(draw, value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15 and draw(st.booleans()):
            return str(int(value))
        return repr(value)
    if isinstance(value, uuid.UUID):
        return render_string(draw, draw(st.sampled_from([str(value), str(value).upper()])))
    hours = draw(st.integers(-14, 14))
    local = value.astimezone(timezone(timedelta(hours=hours, minutes=30 * (hours % 2))))
    text = draw(st.sampled_from([local.isoformat(), value.isoformat().replace("+00:00", "Z")]))
    return render_string(draw, text)


def render_key(draw: st.DrawFn, key: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_-]+", key) and draw(st.booleans()):
        return key
    return render_string(draw, key)


@st.composite
def comparisons(
    draw: st.DrawFn, seen: dict[str, list[Value]], fields: list[str]
) -> tuple[Expr, str]:
    field = draw(st.sampled_from(fields))
    kind = FIELD_KINDS[field]
    op = draw(st.sampled_from(sorted(OPERATORS[kind])))
    key = None
    if kind is FieldKind.METADATA:
        keys_seen = [name.removeprefix("metadata:") for name in seen if ":" in name]
        key = draw(st.one_of(KEYS, st.sampled_from(keys_seen)) if keys_seen else KEYS)
    values = literals(kind, op, seen.get(f"metadata:{key}", []) if key is not None else seen[field])
    name = f"metadata.{render_key(draw, key)}" if key is not None else field
    if op in (Op.IN, Op.NOT_IN):
        chosen = tuple(draw(st.lists(values, min_size=1, max_size=4)))
        listed = ", ".join(render_value(draw, value) for value in chosen)
        text = f"{name} {op.value} ({listed})"
    elif op in (Op.BETWEEN, Op.NOT_BETWEEN):
        chosen = (draw(values), draw(values))
        low, high = (render_value(draw, value) for value in chosen)
        text = f"{name} {op.value} {low} AND {high}"
    else:
        chosen = (draw(values),)
        text = f"{name} {op.value} {render_value(draw, chosen[0])}"
    return Comparison(field, op, chosen, key), text


def combine(children: st.SearchStrategy[tuple[Expr, str]]) -> st.SearchStrategy[tuple[Expr, str]]:
    def joined(word: str, parts: list[tuple[Expr, str]]) -> tuple[Expr, str]:
        operands = tuple(expr for expr, _ in parts)
        text = f" {word} ".join(f"({text})" for _, text in parts)
        return (And(operands) if word.upper() == "AND" else Or(operands)), text

    lists = st.lists(children, min_size=2, max_size=3)
    return st.one_of(
        st.builds(joined, st.sampled_from(["AND", "and", "OR", "Or"]), lists),
        children.map(lambda child: (Not(child[0]), f"NOT ({child[1]})")),
    )


def expressions(
    seen: dict[str, list[Value]], fields: list[str] | None = None
) -> st.SearchStrategy[tuple[Expr, str]]:
    """Random expressions on `fields` (all) and their text, literals often drawn from `seen`."""
    leaves = comparisons(seen, fields or sorted(FIELD_KINDS))
    return st.recursive(leaves, combine, max_leaves=6)
