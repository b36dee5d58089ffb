"""The list filter language of `GET /v1/workflow-executions?q=...`, in the manner of Temporal's.

    status = "REJECTED" AND NOT (error.code IN ("TIMEOUT", "INTERNAL"))
    started_at BETWEEN "2026-12-01" AND "2026-12-02T00:00:00+02:00" OR metadata.tier >= 3

Keywords are case-insensitive; NOT binds tighter than AND, AND tighter than OR. Every literal
is checked against its field's type here, so compiling a parsed expression cannot fail.
Limits keep what a client sends small: 4096 characters, nesting (parentheses and NOT) 32
deep, 1000 values in an IN list, 200 comparisons.
"""

from __future__ import annotations

from collections.abc import Callable

from projections._filter_ast import (
    And,
    Comparison,
    Expr,
    FilterSyntaxError,
    Not,
    Op,
    Or,
    Value,
)
from projections._filter_fields import (
    FIELDS,
    METADATA,
    OPERATORS,
    LiteralError,
    check_literal,
    parse_time,
)
from projections._filter_lexer import END, Kind, Token, tokenize

__all__ = [
    "And",
    "Comparison",
    "Expr",
    "FilterSyntaxError",
    "LiteralError",
    "Not",
    "Op",
    "Or",
    "Value",
    "parse_filter",
    "parse_time",
]

MAX_DEPTH = 32
MAX_IN_VALUES = 1000
MAX_TERMS = 200

_SYMBOLS = {op.value: op for op in (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)}
# Checks a literal token against its field (a closure over the field and the operator).
_Check = Callable[[Token], Value]

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "BETWEEN", "CONTAINS", "TRUE", "FALSE"})


def parse_filter(text: str) -> Expr | None:
    """The expression `text` writes, None when it is empty or blank; FilterSyntaxError if bad."""
    parser = _Parser(tokenize(text))
    if parser.peek().kind is Kind.END:
        return None
    expr = parser.disjunction()
    parser.expect_end()
    return expr


def _shown(token: Token) -> str:
    return END if token.kind is Kind.END else token.text


class _Parser:
    """A recursive-descent parser over the tokens; recursion is bounded by MAX_DEPTH."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.depth = 0
        self.terms = 0

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        if token.kind is not Kind.END:
            self.at += 1
        return token

    def fail(self, token: Token, reason: str) -> FilterSyntaxError:
        return FilterSyntaxError(token.position, _shown(token), reason)

    def keyword(self, word: str) -> bool:
        """Take the next token if it is the keyword `word`."""
        token = self.peek()
        if token.kind is Kind.NAME and token.text.upper() == word:
            self.at += 1
            return True
        return False

    def expect_end(self) -> None:
        token = self.peek()
        if token.kind is Kind.RPAREN:
            raise self.fail(token, "')' without a matching '('")
        if token.kind is not Kind.END:
            raise self.fail(token, "expected AND, OR or the end of the expression")

    def disjunction(self) -> Expr:
        operands = [self.conjunction()]
        while self.keyword("OR"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def conjunction(self) -> Expr:
        operands = [self.negation()]
        while self.keyword("AND"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def negation(self) -> Expr:
        token = self.peek()
        if self.keyword("NOT"):
            self.enter(token)
            operand = self.negation()
            self.depth -= 1
            return Not(operand)
        if token.kind is Kind.LPAREN:
            self.take()
            self.enter(token)
            expr = self.disjunction()
            closing = self.peek()
            if closing.kind is not Kind.RPAREN:
                raise self.fail(closing, "expected ')' or AND/OR")
            self.take()
            self.depth -= 1
            return expr
        return self.comparison()

    def enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(token, f"nested more than {MAX_DEPTH} deep")

    def comparison(self) -> Comparison:
        token = self.take()
        field, key = self.field(token)
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail(token, f"more than {MAX_TERMS} comparisons")
        op_token = self.peek()
        op = self.operator(token.text)
        kind = FIELDS[field]
        if op not in OPERATORS[kind]:
            raise self.fail(op_token, f"{op.value!r} does not apply to {field}")
        name = token.text

        def check(literal: Token) -> Value:
            return check_literal(kind, name, op, literal)

        if op in (Op.IN, Op.NOT_IN):
            values = self.value_list(op, check)
        elif op in (Op.BETWEEN, Op.NOT_BETWEEN):
            low = self.value(op.value, check)
            if not self.keyword("AND"):
                raise self.fail(self.peek(), f"expected AND after {op.value}'s first value")
            values = (low, self.value("AND", check))
        else:
            values = (self.value(op.value, check),)
        return Comparison(field, op, values, key)

    def field(self, token: Token) -> tuple[str, str | None]:
        """The field a NAME token names, and its metadata key."""
        if token.kind is not Kind.NAME or token.text.upper() in _KEYWORDS:
            raise self.fail(token, "expected a field, NOT or '('")
        parts = token.parts
        if parts[0] == METADATA:
            if len(parts) != 2:
                raise self.fail(
                    token, 'metadata takes one key: metadata.<key>, or metadata."a.b" for dots'
                )
            return METADATA, parts[1]
        name = ".".join(parts)
        if name not in FIELDS or '"' in token.text or "'" in token.text:
            raise self.fail(token, f"unknown field {token.text!r}")
        return name, None

    def operator(self, field: str) -> Op:
        token = self.take()
        if token.kind is Kind.OPERATOR:
            return _SYMBOLS[token.text]
        word = token.text.upper() if token.kind is Kind.NAME else ""
        if word in ("IN", "BETWEEN", "CONTAINS"):
            return Op(word)
        if word == "NOT":
            follower = self.take()
            following = follower.text.upper() if follower.kind is Kind.NAME else ""
            if following in ("IN", "BETWEEN"):
                return Op(f"NOT {following}")
            raise self.fail(follower, "expected IN or BETWEEN after NOT")
        raise self.fail(token, f"expected an operator after {field}")

    def value(self, after: str, check: _Check) -> Value:
        token = self.take()
        if token.kind not in (Kind.STRING, Kind.NUMBER, Kind.NAME) or (
            token.kind is Kind.NAME and token.text.lower() not in ("true", "false")
        ):
            raise self.fail(token, f"expected a value after {after!r}")
        try:
            return check(token)
        except LiteralError as error:
            raise self.fail(token, str(error)) from None

    def value_list(self, op: Op, check: _Check) -> tuple[Value, ...]:
        opening = self.take()
        if opening.kind is not Kind.LPAREN:
            raise self.fail(opening, f"expected '(' after {op.value}")
        values = [self.value("(", check)]
        while self.peek().kind is Kind.COMMA:
            self.take()
            if len(values) == MAX_IN_VALUES:
                raise self.fail(self.peek(), f"more than {MAX_IN_VALUES} values in an IN list")
            values.append(self.value(",", check))
        closing = self.take()
        if closing.kind is not Kind.RPAREN:
            raise self.fail(closing, "expected ',' or ')' in the IN list")
        return tuple(values)
