"""JSON that every reader reads as the same value, checked on the way in.

The log keeps an event's bytes as sent, and each reader parses them again: ingest with orjson,
ClickHouse with its own parser, an auditor with whatever they use. Two things in valid JSON
are read differently by different parsers, so they are refused:

- a key repeated within one object: orjson keeps the last value, ClickHouse the first, so
  validation would check one value and the reads would serve the other;
- an integer outside 64 bits: orjson turns it into an approximate float, ClickHouse into a
  string, so no reader gets the number that was sent.

Checking costs one `orjson.dumps` for nearly every event: when the parsed value dumps back to
exactly the bytes that were sent, the bytes held no repeated key and no such integer (either
would have dumped differently). Only other events (written with spaces, other escapes or
number forms) are parsed again, with the standard library keeping every key, and walked.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**64 - 1
"""The integers every reader keeps exactly: signed and unsigned 64 bits."""

_MAX_FINDINGS = 10  # per event: enough to fix it, not a page of the same mistake


class _Pairs(list[tuple[str, Any]]):
    """An object's (key, value) pairs in the order they were sent, repeats included."""


def ambiguities(value: Any, raw: bytes) -> list[tuple[str, str]]:
    """(field path, reason) for each place where `raw` (parsed by orjson into `value`) is not
    read the same by every parser; empty when there is none."""
    try:
        if orjson.dumps(value) == raw:
            return []
    except orjson.JSONEncodeError:
        pass  # nested past what orjson writes: refused for that elsewhere, walked here anyway
    try:
        exact = json.loads(raw, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return []  # orjson read it; nesting and encoding are checked elsewhere
    return _walk(exact)


def _walk(root: Any) -> list[tuple[str, str]]:
    findings: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [("", root)]
    while stack and len(findings) < _MAX_FINDINGS:
        path, value = stack.pop()
        if isinstance(value, _Pairs):
            seen: set[str] = set()
            children = []
            for key, item in value:
                field = f"{path}.{key[:60]}" if path else key[:60]
                if key in seen:
                    findings.append(
                        (field, "is given more than once in one object; send each key once")
                    )
                seen.add(key)
                children.append((field, item))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend((f"{path}[{n}]", item) for n, item in reversed(list(enumerate(value))))
        elif (
            isinstance(value, int)
            and not isinstance(value, bool)
            and not MIN_INTEGER <= value <= MAX_INTEGER
        ):
            findings.append(
                (
                    path or "event",
                    f"is an integer outside {MIN_INTEGER} to {MAX_INTEGER}, which JSON readers do "
                    "not keep exactly; send it as a string",
                )
            )
    return findings[:_MAX_FINDINGS]
