"""Turning a request body into validated envelopes, each with the exact bytes that were sent.

The auditor's promise is that the log holds what the sender sent, byte for byte, per event.
orjson parses faster but cannot tell where each element of an array begins and ends, so the
body is walked with the standard library's C scanner (`raw_decode`), which yields each
element's value and its end offset in one pass: one parse, exact slices, no re-encoding.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import orjson

from domain.envelope import Envelope, Json, validate_event
from domain.errors import FieldError, InvalidBatch, InvalidBody


def _refuse_constant(name: str) -> Json:
    # NaN and Infinity are not JSON; the standard library would accept them.
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_WHITESPACE = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True, slots=True)
class Batch:
    """The validated events of one request, in the order they were sent, first copies only."""

    envelopes: list[Envelope]
    received_count: int
    repeated_in_batch_count: int


def split_body(body: bytes, max_events: int) -> list[tuple[Json, bytes]]:
    """Each event of a body (one object, or an array of them) with the bytes it was sent as."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidBody(f"body is not UTF-8: {error.reason} at byte {error.start}") from None
    start = _skip_whitespace(text, 0)
    if start == len(text):
        raise InvalidBody("body is empty; send one event object or an array of them")
    # orjson is the gate: everything downstream reads events with it, so what it refuses (lone
    # surrogates, 1e999, nesting past 1024) must be refused here, not stored. It is also fast
    # enough to count the events before the slower, offset-tracking walk.
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidBody(f"body is not valid JSON: {error}") from None
    if isinstance(parsed, list) and len(parsed) > max_events:
        raise InvalidBatch(
            [
                FieldError(
                    None, "body", f"a batch holds at most {max_events} events, got {len(parsed)}"
                )
            ]
        )
    try:
        if text[start] != "[":
            value, end = _DECODER.raw_decode(text, start)
            _expect_end(text, end)
            return [(value, text[start:end].encode())]
        return _split_array(text, start + 1)
    except RecursionError:
        raise InvalidBody("body nests too deeply to be an event") from None
    except ValueError as error:
        raise InvalidBody(f"body is not valid JSON: {error}") from None


def _split_array(text: str, position: int) -> list[tuple[Json, bytes]]:
    items: list[tuple[Json, bytes]] = []
    position = _skip_whitespace(text, position)
    if text[position : position + 1] == "]":
        _expect_end(text, position + 1)
        return items
    while True:
        value, end = _DECODER.raw_decode(text, position)
        items.append((value, text[position:end].encode()))
        position = _skip_whitespace(text, end)
        delimiter = text[position : position + 1]
        if delimiter == "]":
            _expect_end(text, position + 1)
            return items
        if delimiter != ",":
            raise ValueError(f"expected ',' or ']' at character {position}")
        position = _skip_whitespace(text, position + 1)


def _skip_whitespace(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _expect_end(text: str, end: int) -> None:
    rest = _skip_whitespace(text, end)
    if rest != len(text):
        raise ValueError(f"extra data after the JSON value at character {rest}")


def validate_batch(items: list[tuple[Json, bytes]]) -> Batch:
    """Validate every event; raise `InvalidBatch` naming each bad one, so nothing is stored."""
    errors: list[FieldError] = []
    envelopes: list[Envelope] = []
    seen: set[object] = set()
    repeated = 0
    for index, (value, raw) in enumerate(items):
        result = validate_event(value, raw, index)
        if isinstance(result, list):
            errors.extend(result)
        elif result.event_id in seen:
            # The same id twice in one request: the SDK's retries can do this; keep the first.
            repeated += 1
        else:
            seen.add(result.event_id)
            envelopes.append(result)
    if errors:
        raise InvalidBatch(errors)
    return Batch(envelopes=envelopes, received_count=len(items), repeated_in_batch_count=repeated)
