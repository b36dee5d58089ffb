"""The filter language's tokens: names (with dotted and quoted parts), strings, numbers, marks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from projections._filter_ast import FilterSyntaxError

MAX_LENGTH = 4096

END = "end of expression"


class Kind(Enum):
    """What a token is."""

    NAME = "name"
    STRING = "string"
    NUMBER = "number"
    OPERATOR = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end"


@dataclass(frozen=True)
class Token:
    """A token at `position`; `text` is its source; `parts` a name's parts or a string's value."""

    kind: Kind
    text: str
    position: int
    parts: tuple[str, ...] = ()


_NAME_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A metadata key written bare: letters, digits, `_` and `-` (anything else goes in quotes).
_NAME_PART = re.compile(r"[A-Za-z0-9_-]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATOR = re.compile(r"!=|<=|>=|=|<|>")
_ESCAPED = {'"': '"', "'": "'", "\\": "\\"}
_MARKS = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}


def tokenize(text: str) -> list[Token]:
    """The tokens of `text`, ending with an END token; FilterSyntaxError on a malformed one."""
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(
            MAX_LENGTH, text[MAX_LENGTH], f"the expression is longer than {MAX_LENGTH} characters"
        )
    tokens: list[Token] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            tokens.append(Token(Kind.END, END, at))
            return tokens
        token = _token_at(text, at)
        tokens.append(token)
        at += len(token.text)


def _token_at(text: str, at: int) -> Token:
    char = text[at]
    if char in _MARKS:
        return Token(_MARKS[char], char, at)
    if char in "\"'":
        end, value = _string_at(text, at)
        return Token(Kind.STRING, text[at:end], at, (value,))
    if name := _NAME_START.match(text, at):
        return _name_at(text, at, name.end())
    if number := _NUMBER.match(text, at):
        end = number.end()
        # `12abc` or `1.5.2` is one malformed word, not a number followed by a name.
        if end < len(text) and (text[end].isalnum() or text[end] in "._"):
            word = re.match(r"[\w.+-]+", text[at:]) or number
            raise FilterSyntaxError(at, word.group(), "not a number")
        return Token(Kind.NUMBER, number.group(), at)
    if operator := _OPERATOR.match(text, at):
        return Token(Kind.OPERATOR, operator.group(), at)
    raise FilterSyntaxError(at, char, f"unexpected character {char!r}")


def _name_at(text: str, at: int, end: int) -> Token:
    """A name and its dotted parts: `status`, `error.code`, `metadata.tier`, `metadata."a b"`."""
    parts = [text[at:end]]
    while end < len(text) and text[end] == ".":
        after = end + 1
        if after < len(text) and text[after] in "\"'":
            after, value = _string_at(text, after)
            parts.append(value)
        elif part := _NAME_PART.match(text, after):
            after = part.end()
            parts.append(part.group())
        else:
            raise FilterSyntaxError(
                end, text[at:after], "expected a key after '.' (letters, digits, _ or -, or quoted)"
            )
        end = after
    return Token(Kind.NAME, text[at:end], at, tuple(parts))


def _string_at(text: str, start: int) -> tuple[int, str]:
    """The end of the string literal opening at `start`, and its value with escapes undone."""
    quote = text[start]
    chars: list[str] = []
    at = start + 1
    while at < len(text):
        char = text[at]
        if char == quote:
            return at + 1, "".join(chars)
        if char == "\\":
            escaped = text[at + 1 : at + 2]
            if not escaped:
                break
            if escaped not in _ESCAPED:
                raise FilterSyntaxError(
                    at,
                    "\\" + escaped,
                    "unknown escape: only \\\", \\' and \\\\ are allowed in a string",
                )
            chars.append(_ESCAPED[escaped])
            at += 2
            continue
        chars.append(char)
        at += 1
    raise FilterSyntaxError(start, text[start:], "unterminated string")
