"""Where the members of a JSON object and the elements of an array sit in the text.

Parsers give values, not places; two features need places, to keep bytes exactly as they
were sent: the payload store cuts a large value out of an event and puts it back
(projections/payloads.py), and OTLP/JSON keeps each span's own text (domain/otlp_bytes.py).
The standard library's scanner says where each value ends (`raw_decode`), which is all it
takes. Each value is parsed on the way (in C): use it on texts already known to be JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_scan_string: Any = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip(text: str, at: int) -> int:
    found = _WHITESPACE.match(text, at)
    assert found is not None  # the pattern matches the empty string
    return found.end()


def _after_item(text: str, at: int, close: str) -> int | None:
    """Where the next item starts after one ending at `at`; None at the closing bracket."""
    at = _skip(text, at)
    if text[at : at + 1] == close:
        return None
    if text[at : at + 1] != ",":
        raise ValueError("no comma")
    return _skip(text, at + 1)


def members(text: str, start: int) -> list[tuple[str, int, int]]:
    """(key, value start, value end) of the object at `text[start:]` (after any whitespace);
    `ValueError` when it is not an object."""
    at = _skip(text, start)
    if text[at : at + 1] != "{":
        raise ValueError("not an object")
    at = _skip(text, at + 1)
    found: list[tuple[str, int, int]] = []
    if text[at : at + 1] == "}":
        return found
    while True:
        if text[at : at + 1] != '"':
            raise ValueError("not a key")
        key, at = _scan_string(text, at + 1)
        at = _skip(text, at)
        if text[at : at + 1] != ":":
            raise ValueError("no colon")
        value_start = _skip(text, at + 1)
        _, at = _DECODER.raw_decode(text, value_start)
        found.append((key, value_start, at))
        after = _after_item(text, at, "}")
        if after is None:
            return found
        at = after


def elements(text: str, start: int) -> list[tuple[int, int]]:
    """(start, end) of each element of the array at `text[start:]`; `ValueError` when it is
    not an array."""
    at = _skip(text, start)
    if text[at : at + 1] != "[":
        raise ValueError("not an array")
    at = _skip(text, at + 1)
    found: list[tuple[int, int]] = []
    if text[at : at + 1] == "]":
        return found
    while True:
        element_start = at
        _, at = _DECODER.raw_decode(text, element_start)
        found.append((element_start, at))
        after = _after_item(text, at, "]")
        if after is None:
            return found
        at = after
