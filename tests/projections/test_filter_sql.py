"""The filter's SQL agrees with its Python evaluator on chDB, and carries no literal value.

Random rows (NULLs, odd metadata) and random well-typed expressions, rendered to text and
parsed back, are run both ways; any text either parses (and then compiles) or raises
FilterSyntaxError.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections._filter_fields import NUMERIC_ONLY, OPERATORS, STATUSES, FieldKind
from projections.clickhouse import connect
from projections.filter_eval import matches
from projections.filter_grammar import (
    And,
    Comparison,
    Expr,
    FilterSyntaxError,
    Not,
    Op,
    Or,
    Value,
    parse_filter,
)
from projections.filter_sql import COLUMNS, compile_filter

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
    "metadata": "String",
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


@pytest.fixture(scope="module")
def table(clickhouse_url: str) -> Iterator[Client]:
    """A client whose database holds table `t` with the columns filter_sql compiles for."""
    database = f"rl_filter_{uuid.uuid4().hex[:12]}"
    client = connect(clickhouse_url, database)
    columns = ", ".join(f"{name} {type_}" for name, type_ in COLUMN_TYPES.items())
    client.command(f"CREATE TABLE t ({columns}) ENGINE = Memory")
    yield client
    client.command(
        "DROP DATABASE IF EXISTS {database:Identifier}", parameters={"database": database}
    )
    client.close()


def stored(row: dict[str, Any], row_id: int) -> list[Any]:
    values = {
        **row,
        "id": row_id,
        "metadata": json.dumps(row["metadata"]),
        "has_actuals": int(row["has_actuals"]),
    }
    return [values[name] for name in COLUMN_TYPES]


def check_agreement(
    table: Client, rows: list[dict[str, Any]], cases: list[tuple[Expr, str]]
) -> None:
    """Each case's text parses to its expression, and SQL and Python select the same rows."""
    table.command("TRUNCATE TABLE t")
    if rows:
        table.insert(
            "t", [stored(row, n) for n, row in enumerate(rows)], column_names=list(COLUMN_TYPES)
        )
    for expr, text in cases:
        assert parse_filter(text) == expr, text
        compiled = compile_filter(expr)
        selected = table.query(
            f"SELECT id FROM t WHERE {compiled.sql} ORDER BY id", parameters=compiled.parameters
        ).result_rows
        expected = [n for n, row in enumerate(rows) if matches(expr, row)]
        assert [row_id for (row_id,) in selected] == expected, text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, data=st.data())
def test_sql_selects_the_rows_python_matches(
    table: Client, rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    cases = data.draw(st.lists(expressions(seen_values(rows)), min_size=1, max_size=5))
    check_agreement(table, rows, cases)


# Where JSON types and float equality are subtlest: more examples there, fewer fields.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, data=st.data())
def test_metadata_and_float_comparisons_agree(
    table: Client, rows: list[dict[str, Any]], data: st.DataObject
) -> None:
    focused = expressions(seen_values(rows), ["metadata", "metadata", "duration_ms", "cost"])
    check_agreement(table, rows, data.draw(st.lists(focused, min_size=1, max_size=8)))


# Pieces of the language, so that random text often gets deep into the parser.
SOUP = st.lists(
    st.sampled_from(
        [
            *FIELD_KINDS,
            *("metadata.a", 'metadata."a b"', "metadata.", "error.", "stauts"),
            *("=", "!=", "<", "<=", ">", ">=", "IN", "NOT", "BETWEEN", "CONTAINS", "AND", "OR"),
            *("(", ")", ",", "true", "1", "-2.5e3", "1e999", "'REJECTED'", '"2026-12-01"'),
            *(f"'{UUIDS[0]}'", "'x\\'y'", "'\\n'", "'open", "\\", ";", "{f0:String}"),
        ]
    )
    | st.text(max_size=3),
    max_size=12,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(), SOUP))
def test_any_text_parses_and_compiles_or_raises_filter_syntax_error(text: str) -> None:
    try:
        expr = parse_filter(text)
    except FilterSyntaxError as error:
        refused: FilterSyntaxError | None = error
    else:
        refused = None
        assert compile_filter(expr).sql
    if refused is not None:
        assert 0 <= refused.position <= len(text)
        assert refused.reason


SQL_WORDS = {"ifNull", "has", "hasAny", "arrayExists", "position", "AND", "OR", "NOT", "IN", "m"}
SQL_WORDS |= {"JSONType", "JSONExtractString", "JSONExtractFloat", "JSONExtractBool", "0", "1"}
SQL_WORDS |= set(COLUMNS.values())
JSON_TYPE_NAMES = {"'String'", "'Bool'", "'Int64'", "'UInt64'", "'Double'"}


@settings(max_examples=200, deadline=None)
@given(case=expressions(seen_values([])))
def test_no_literal_value_reaches_the_sql_text(case: tuple[Expr, str]) -> None:
    expr, _ = case
    compiled = compile_filter(expr)
    placeholders = re.findall(r"\{(\w+):[^{}]+\}", compiled.sql)
    assert set(placeholders) == set(compiled.parameters)
    rest = re.sub(r"\{\w+:[^{}]+\}", " ", compiled.sql)
    assert set(re.findall(r"'[^']*'", rest)) <= JSON_TYPE_NAMES
    words = re.findall(r"[^\s(),=<>!'-]+", re.sub(r"'[^']*'", " ", rest))
    assert set(words) <= SQL_WORDS, compiled.sql


def test_marked_values_and_keys_are_parameters_only() -> None:
    text = (
        "workflow = 'MARK1' AND metadata.MARK2 IN ('MARK3', 4242.5, true) "
        'AND error.message CONTAINS "MARK4\'--" AND tokens BETWEEN 123456 AND 654321'
    )
    compiled = compile_filter(parse_filter(text))
    for marker in ("MARK", "4242", "123456", "654321", "--"):
        assert marker not in compiled.sql
    assert "MARK4'--" in compiled.parameters.values()


def test_no_filter_is_true() -> None:
    assert compile_filter(None).sql == "1"
    assert compile_filter(None).parameters == {}
    assert matches(None, {})


def test_every_comparison_is_wrapped_so_not_is_plain_negation() -> None:
    compiled = compile_filter(parse_filter("NOT ended_at < '2026-12-01' AND external_id != 'x'"))
    assert compiled.sql == (
        "((NOT ifNull(ended_at < {f0:DateTime64(6, 'UTC')}, 0))"
        " AND (NOT ifNull(external_id = {f1:String}, 0)))"
    )
    assert compiled.parameters == {"f0": datetime(2026, 12, 1, tzinfo=UTC), "f1": "x"}


BASE_ROW: dict[str, Any] = {
    "status": "FULFILLED",
    "workflow": "summarise",
    "deployment": "",
    "release_tag": "",
    "release_id": None,
    "trace_id": None,
    "external_id": None,
    "metadata": {},
    "started_at": datetime(2026, 12, 1, 10, tzinfo=UTC),
    "ended_at": None,
    "duration_ms": None,
    "error_code": None,
    "error_message": None,
    "models": [],
    "tokens": 0,
    "cost": 0.0,
    "has_actuals": False,
}
PINNED_ROWS: list[dict[str, Any]] = [
    BASE_ROW,
    {**BASE_ROW, "duration_ms": -0.0, "metadata": {"n": 3, "s": "3", "b": True, "big": 2**64}},
    {**BASE_ROW, "duration_ms": 2500.5, "metadata": {"n": 3.0, "s": 3, "b": 1, "o": {"n": 3}}},
    {
        **BASE_ROW,
        "status": "REJECTED",
        "error_code": "TIMEOUT",
        "error_message": "Rate limit hit",
        "external_id": "abc",
        "ended_at": datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC),
        "models": ["gpt-4o", "claude"],
        "metadata": {"n": 2**63, "a key": None},
    },
]


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        pytest.param("duration_ms IN (0)", [1], id="minus-zero-in-list"),
        pytest.param("duration_ms = 0", [1], id="minus-zero-equals"),
        pytest.param("duration_ms != 0", [0, 2, 3], id="ne-on-null-is-true"),
        pytest.param("NOT duration_ms > 1", [0, 1, 3], id="not-on-null-is-true"),
        pytest.param("external_id NOT IN ('abc')", [0, 1, 2], id="not-in-on-null"),
        pytest.param(
            "ended_at NOT BETWEEN '2026-12-01' AND '2026-12-02'", [0, 1, 2], id="not-between-null"
        ),
        pytest.param("metadata.n = 3", [1, 2], id="json-int-and-double"),
        pytest.param("metadata.n >= 9223372036854775808", [3], id="json-uint64"),
        pytest.param("metadata.s = '3'", [1], id="string-is-not-number"),
        pytest.param("metadata.s = 3", [2], id="number-is-not-string"),
        pytest.param("metadata.b = true", [1], id="bool-is-not-one"),
        pytest.param("metadata.b IN (1, 'x')", [2], id="one-is-not-bool"),
        pytest.param(
            "metadata.big = '18446744073709551616'", [1], id="past-64-bits-reads-as-string"
        ),
        pytest.param("metadata.big > 0", [], id="past-64-bits-is-no-number"),
        pytest.param(
            "metadata.o = 3 OR metadata.\"a key\" != 'x'", [0, 1, 2, 3], id="object-and-null"
        ),
        pytest.param("metadata.\"a key\" IN ('x', 1, true)", [], id="null-matches-nothing"),
        pytest.param("error.message CONTAINS 'rate'", [], id="contains-is-case-sensitive"),
        pytest.param("error.message CONTAINS 'Rate limit'", [3], id="contains"),
        pytest.param("model = 'claude'", [3], id="any-model"),
        pytest.param("model != 'claude'", [0, 1, 2], id="no-model-is-claude"),
        pytest.param("model CONTAINS 'gpt'", [3], id="any-model-contains"),
        pytest.param("ended_at > '2026-12-01T12:00:00+02:00'", [3], id="offset"),
        pytest.param("status = 'REJECTED' AND error.code IN ('TIMEOUT')", [3], id="in"),
    ],
)
def test_pinned_cases(table: Client, text: str, ids: list[int]) -> None:
    expr = parse_filter(text)
    assert expr is not None
    assert [n for n, row in enumerate(PINNED_ROWS) if matches(expr, row)] == ids
    check_agreement(table, PINNED_ROWS, [(expr, text)])
