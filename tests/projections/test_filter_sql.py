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
from datetime import UTC, datetime
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.clickhouse import connect
from projections.filter_eval import matches
from projections.filter_grammar import (
    Expr,
    FilterSyntaxError,
    parse_filter,
)
from projections.filter_sql import COLUMNS, compile_filter
from tests.filter_expressions import (
    COLUMN_TYPES,
    FIELD_KINDS,
    ROWS,
    UUIDS,
    expressions,
    seen_values,
)


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
        "metadata": {key: json.dumps(value) for key, value in row["metadata"].items()},
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
    words = re.findall(r"[^\s(),=<>!'[\]-]+", re.sub(r"'[^']*'", " ", rest))
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
