"""The filter language's parser: precedence, operators, literals, limits and its errors."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from projections.filter_grammar import (
    And,
    Comparison,
    Expr,
    FilterSyntaxError,
    Not,
    Op,
    Or,
    parse_filter,
)

A = Comparison("workflow", Op.EQ, ("a",))
B = Comparison("workflow", Op.EQ, ("b",))
C = Comparison("workflow", Op.EQ, ("c",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "workflow='a' OR workflow='b' AND workflow='c'", Or((A, And((B, C)))), id="and-over-or"
        ),
        pytest.param(
            "(workflow='a' OR workflow='b') AND workflow='c'", And((Or((A, B)), C)), id="parens"
        ),
        pytest.param("NOT workflow='a' AND workflow='b'", And((Not(A), B)), id="not-over-and"),
        pytest.param("not not workflow='a'", Not(Not(A)), id="double-not-lowercase"),
        pytest.param(
            "workflow='a' and workflow='b' Or workflow='c'", Or((And((A, B)), C)), id="mixed-case"
        ),
        pytest.param(
            "workflow='a' AND workflow='b' AND workflow='c'", And((A, B, C)), id="flat-and"
        ),
        pytest.param("((workflow='a'))", A, id="redundant-parens"),
    ],
)
def test_precedence_is_not_then_and_then_or(text: str, expected: Expr) -> None:
    assert parse_filter(text) == expected


T1 = datetime(2026, 12, 1, tzinfo=UTC)
T2 = datetime(2026, 12, 2, 10, tzinfo=UTC)
ID = UUID("6f1c0000-0000-4000-8000-00000000000a")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('status = "REJECTED"', Comparison("status", Op.EQ, ("REJECTED",)), id="eq"),
        pytest.param("status != 'PENDING'", Comparison("status", Op.NE, ("PENDING",)), id="ne"),
        pytest.param("tokens < 5", Comparison("tokens", Op.LT, (5,)), id="lt"),
        pytest.param("tokens<=5", Comparison("tokens", Op.LE, (5,)), id="le-no-spaces"),
        pytest.param("cost > -1.5e-3", Comparison("cost", Op.GT, (-0.0015,)), id="gt-exponent"),
        pytest.param("cost >= +.5", Comparison("cost", Op.GE, (0.5,)), id="ge-leading-dot"),
        pytest.param(
            "duration_ms > 3", Comparison("duration_ms", Op.GT, (3.0,)), id="int-as-float"
        ),
        pytest.param(
            'error.code IN ("TIMEOUT", "INTERNAL")',
            Comparison("error.code", Op.IN, ("TIMEOUT", "INTERNAL")),
            id="in",
        ),
        pytest.param(
            "status not in ('PENDING')", Comparison("status", Op.NOT_IN, ("PENDING",)), id="not-in"
        ),
        pytest.param(
            'started_at BETWEEN "2026-12-01" AND "2026-12-02T10:00:00Z"',
            Comparison("started_at", Op.BETWEEN, (T1, T2)),
            id="between",
        ),
        pytest.param(
            "tokens NOT BETWEEN 1 AND 2",
            Comparison("tokens", Op.NOT_BETWEEN, (1, 2)),
            id="not-between",
        ),
        pytest.param(
            "error.message CONTAINS 'rate limit'",
            Comparison("error.message", Op.CONTAINS, ("rate limit",)),
            id="contains",
        ),
        pytest.param("has_actuals = TRUE", Comparison("has_actuals", Op.EQ, (True,)), id="bool"),
        pytest.param(
            f'trace_id = "{str(ID).upper()}"', Comparison("trace_id", Op.EQ, (ID,)), id="uuid-upper"
        ),
        pytest.param("model != 'gpt-4o'", Comparison("model", Op.NE, ("gpt-4o",)), id="model-ne"),
        pytest.param(
            "metadata.tier >= 3",
            Comparison("metadata", Op.GE, (3.0,), "tier"),
            id="metadata-number",
        ),
        pytest.param(
            'metadata."a key.with dots" = "x"',
            Comparison("metadata", Op.EQ, ("x",), "a key.with dots"),
            id="metadata-quoted-key",
        ),
        pytest.param(
            "metadata.my-key_1 IN ('a', 2, false)",
            Comparison("metadata", Op.IN, ("a", 2.0, False), "my-key_1"),
            id="metadata-mixed-in",
        ),
        pytest.param(
            "metadata.2nd = true",
            Comparison("metadata", Op.EQ, (True,), "2nd"),
            id="metadata-digit-key",
        ),
    ],
)
def test_each_operator_and_literal(text: str, expected: Expr) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        pytest.param(r"'it\'s'", "it's", id="single-in-single"),
        pytest.param(r'"say \"hi\""', 'say "hi"', id="double-in-double"),
        pytest.param(r"'back\\slash'", "back\\slash", id="backslash"),
        pytest.param("'a \"b\"'", 'a "b"', id="other-quote-plain"),
        pytest.param("'é 中 🙂'", "é 中 🙂", id="unicode"),
        pytest.param("''", "", id="empty"),
    ],
)
def test_string_escapes(literal: str, value: str) -> None:
    assert parse_filter(f"workflow = {literal}") == Comparison("workflow", Op.EQ, (value,))


@pytest.mark.parametrize(
    ("literal", "moment"),
    [
        pytest.param("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC), id="date"),
        pytest.param("2026-12-01T10:00:00Z", datetime(2026, 12, 1, 10, tzinfo=UTC), id="zulu"),
        pytest.param(
            "2026-12-01T10:00:00", datetime(2026, 12, 1, 10, tzinfo=UTC), id="no-offset-is-utc"
        ),
        pytest.param("2026-12-01T10:00", datetime(2026, 12, 1, 10, tzinfo=UTC), id="no-seconds"),
        pytest.param(
            "2026-12-01T10:00:00+02:00", datetime(2026, 12, 1, 8, tzinfo=UTC), id="plus-offset"
        ),
        pytest.param(
            "2026-12-01T23:30:00-0130", datetime(2026, 12, 2, 1, tzinfo=UTC), id="minus-offset"
        ),
        pytest.param(
            "2026-12-01T10:00:00.5Z",
            datetime(2026, 12, 1, 10, 0, 0, 500000, tzinfo=UTC),
            id="fraction",
        ),
        pytest.param(
            "2026-12-01 10:00:00.123456+00:00",
            datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC),
            id="space-micros",
        ),
    ],
)
def test_times_become_utc(literal: str, moment: datetime) -> None:
    parsed = parse_filter(f'ended_at = "{literal}"')
    assert parsed == Comparison("ended_at", Op.EQ, (moment,))
    assert isinstance(parsed, Comparison)
    assert parsed.values[0].utcoffset() is not None  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"], ids=["empty", "spaces", "newline-tab"])
def test_blank_is_no_filter(text: str) -> None:
    assert parse_filter(text) is None


IN_1001 = "tokens IN (" + ", ".join(["1"] * 1001) + ")"
TERMS_201 = " OR ".join(["tokens = 1"] * 201)
DEEP_33 = "(" * 33 + "tokens = 1" + ")" * 33
NOTS_33 = "NOT " * 33 + "tokens = 1"


@pytest.mark.parametrize(
    ("text", "position", "token", "reason"),
    [
        pytest.param("stauts = 1", 0, "stauts", "unknown field 'stauts'", id="unknown-field"),
        pytest.param(
            "error.kind = 'x'",
            0,
            "error.kind",
            "unknown field 'error.kind'",
            id="unknown-sub-field",
        ),
        pytest.param(
            "status =", 8, "end of expression", "expected a value after '='", id="missing-value"
        ),
        pytest.param("status = AND", 9, "AND", "expected a value after '='", id="keyword-as-value"),
        pytest.param(
            "status < 'PENDING'", 7, "<", "'<' does not apply to status", id="wrong-operator"
        ),
        pytest.param(
            "has_actuals IN (true)", 12, "IN", "'IN' does not apply to has_actuals", id="bool-in"
        ),
        pytest.param(
            "error.message IN ('x')",
            14,
            "IN",
            "'IN' does not apply to error.message",
            id="message-in",
        ),
        pytest.param("workflow > 'x'", 9, ">", "'>' does not apply to workflow", id="string-order"),
        pytest.param(
            "started_at CONTAINS '2026'",
            11,
            "CONTAINS",
            "'CONTAINS' does not apply to started_at",
            id="time-contains",
        ),
        pytest.param(
            "tokens NOT CONTAINS 1",
            11,
            "CONTAINS",
            "expected IN or BETWEEN after NOT",
            id="not-contains",
        ),
        pytest.param(
            "status",
            6,
            "end of expression",
            "expected an operator after status",
            id="missing-operator",
        ),
        pytest.param(
            "status == 'PENDING'", 8, "=", "expected a value after '='", id="double-equals"
        ),
        pytest.param(
            "started_at = '2026-13-01'",
            13,
            "'2026-13-01'",
            "not an ISO-8601 time: '2026-13-01'",
            id="bad-month",
        ),
        pytest.param(
            "started_at > '2026-12-01T25:00:00Z'",
            13,
            "'2026-12-01T25:00:00Z'",
            "not an ISO-8601 time: '2026-12-01T25:00:00Z'",
            id="bad-hour",
        ),
        pytest.param(
            "started_at > 'yesterday'",
            13,
            "'yesterday'",
            "not an ISO-8601 time: 'yesterday'",
            id="not-a-time",
        ),
        pytest.param(
            "started_at > '2026-12-01T00:00:00.1234567Z'",
            13,
            "'2026-12-01T00:00:00.1234567Z'",
            "a time has at most 6 fractional digits (microseconds): '2026-12-01T00:00:00.1234567Z'",
            id="nanoseconds",
        ),
        pytest.param(
            "started_at > '1850-01-01'",
            13,
            "'1850-01-01'",
            "time out of range (1900-01-01 to 2299-12-31 UTC): '1850-01-01'",
            id="time-range",
        ),
        pytest.param(
            "started_at > 20261201",
            13,
            "20261201",
            "started_at takes an ISO-8601 time in quotes",
            id="time-unquoted",
        ),
        pytest.param(
            "status = 'rejected'",
            9,
            "'rejected'",
            "status must be one of PENDING, INITIATED, STREAMING, FULFILLED, REJECTED",
            id="bad-status",
        ),
        pytest.param("workflow = 'abc", 11, "'abc", "unterminated string", id="unterminated"),
        pytest.param(
            'workflow = "abc\\', 11, '"abc\\', "unterminated string", id="unterminated-escape"
        ),
        pytest.param(
            "workflow = 'a\\nb'",
            13,
            "\\n",
            "unknown escape: only \\\", \\' and \\\\ are allowed in a string",
            id="unknown-escape",
        ),
        pytest.param(
            "workflow = 3", 11, "3", "workflow takes a string in quotes", id="string-gets-number"
        ),
        pytest.param("tokens = 1.5", 9, "1.5", "tokens takes an integer", id="tokens-decimal"),
        pytest.param(
            "tokens = -1",
            9,
            "-1",
            "tokens takes an integer from 0 to 2^63 - 1",
            id="tokens-negative",
        ),
        pytest.param(
            f"tokens = {2**63}",
            9,
            str(2**63),
            "tokens takes an integer from 0 to 2^63 - 1",
            id="tokens-too-big",
        ),
        pytest.param("cost = 1e999", 7, "1e999", "number out of range: 1e999", id="float-overflow"),
        pytest.param("cost = 'x'", 7, "'x'", "cost takes a number", id="float-gets-string"),
        pytest.param("cost = 12abc", 7, "12abc", "not a number", id="malformed-number"),
        pytest.param(
            "has_actuals = 1", 14, "1", "has_actuals takes true or false", id="bool-gets-number"
        ),
        pytest.param("release_id = 'abc'", 13, "'abc'", "not a UUID: 'abc'", id="bad-uuid"),
        pytest.param(
            "metadata.n > 'x'",
            13,
            "'x'",
            "'>' on metadata.n takes a number",
            id="metadata-order-string",
        ),
        pytest.param(
            "metadata.n CONTAINS 1",
            20,
            "1",
            "metadata.n takes a string in quotes after CONTAINS",
            id="metadata-contains-number",
        ),
        pytest.param(
            "metadata = 1",
            0,
            "metadata",
            'metadata takes one key: metadata.<key>, or metadata."a.b" for dots',
            id="metadata-no-key",
        ),
        pytest.param(
            "metadata.a.b = 1",
            0,
            "metadata.a.b",
            'metadata takes one key: metadata.<key>, or metadata."a.b" for dots',
            id="metadata-dotted",
        ),
        pytest.param(
            "metadata. = 1",
            8,
            "metadata.",
            "expected a key after '.' (letters, digits, _ or -, or quoted)",
            id="metadata-empty-key",
        ),
        pytest.param("tokens IN 1", 10, "1", "expected '(' after IN", id="in-without-paren"),
        pytest.param(
            "tokens IN (1 2)", 13, "2", "expected ',' or ')' in the IN list", id="in-missing-comma"
        ),
        pytest.param("tokens IN ()", 11, ")", "expected a value after '('", id="in-empty"),
        pytest.param(
            "tokens BETWEEN 1 OR 2",
            17,
            "OR",
            "expected AND after BETWEEN's first value",
            id="between-or",
        ),
        pytest.param(
            "(tokens = 1", 11, "end of expression", "expected ')' or AND/OR", id="unclosed-paren"
        ),
        pytest.param("tokens = 1)", 10, ")", "')' without a matching '('", id="stray-paren"),
        pytest.param(
            "tokens = 1 tokens = 2",
            11,
            "tokens",
            "expected AND, OR or the end of the expression",
            id="missing-and",
        ),
        pytest.param(
            "tokens = 1 AND",
            14,
            "end of expression",
            "expected a field, NOT or '('",
            id="dangling-and",
        ),
        pytest.param("AND tokens = 1", 0, "AND", "expected a field, NOT or '('", id="leading-and"),
        pytest.param("tokens = 1 ; DROP", 11, ";", "unexpected character ';'", id="semicolon"),
        pytest.param(
            "x" * 4097, 4096, "x", "the expression is longer than 4096 characters", id="too-long"
        ),
        pytest.param(DEEP_33, 32, "(", "nested more than 32 deep", id="too-deep-parens"),
        pytest.param(NOTS_33, 128, "NOT", "nested more than 32 deep", id="too-deep-nots"),
        pytest.param(
            IN_1001, 11 + 3 * 1000, "1", "more than 1000 values in an IN list", id="in-too-long"
        ),
        pytest.param(
            TERMS_201, 200 * 14, "tokens", "more than 200 comparisons", id="too-many-terms"
        ),
    ],
)
def test_errors_name_position_token_and_reason(
    text: str, position: int, token: str, reason: str
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    assert (caught.value.position, caught.value.token, caught.value.reason) == (
        position,
        token,
        reason,
    )
    assert str(caught.value) == f"q: at position {position} ({token!r}): {reason}"


def test_error_is_a_value_error_reading_like_the_spec() -> None:
    with pytest.raises(
        ValueError, match=r"^q: at position 0 \('stauts'\): unknown field 'stauts'$"
    ):
        parse_filter("stauts = 'x'")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("(" * 32 + "tokens = 1" + ")" * 32, id="32-parens"),
        pytest.param("NOT " * 32 + "tokens = 1", id="32-nots"),
        pytest.param("tokens IN (" + ", ".join(["1"] * 1000) + ")", id="1000-values"),
        pytest.param(" OR ".join(["tokens = 1"] * 200), id="200-terms"),
    ],
)
def test_limits_are_inclusive(text: str) -> None:
    assert parse_filter(text) is not None
