"""Turning a request body into validated envelopes, each with the exact bytes that were sent.

The auditor's promise is that the log holds what the sender sent, byte for byte, per event.
orjson parses fast but cannot tell where each element of an array begins and ends. Events are
objects, so an element ends at a `}` followed by `, {` or by the body's final `]`; such a `}`
can also sit inside a string, but then the slice up to it is not valid JSON. So each candidate
end is tried with orjson, and the first slice it reads is the element: one orjson parse per
event, exact slices, no re-encoding. Anything else (an element that is not an object, a body
orjson refuses) takes the standard library's C scanner (`raw_decode`), which yields each
element's value and its end offset in one slower pass, and whose errors name the place.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

import orjson

from domain.envelope import Envelope, Json, validate_event
from domain.errors import FieldError, InvalidBatch, InvalidBody


def _refuse_constant(name: str) -> Json:
    # NaN and Infinity are not JSON; the standard library would accept them.
    raise ValueError(f"{name} is not valid JSON")


_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def _int_as_orjson_reads(text: str) -> int | float:
    # orjson reads an integer past 64 bits as a float; the walk must read it the same, or an
    # event would be judged (and refused, as one orjson cannot write) by the path it took.
    value = int(text)
    return value if _INT64_MIN <= value <= _UINT64_MAX else float(value)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_int_as_orjson_reads)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_BYTES_WHITESPACE = b" \t\n\r"
# A candidate end of an object element: its `}`, then either `,` and the next object's `{`, or
# the `]` that ends the (stripped) body. Inside an event, objects end before `, "key"` far more
# often than before `, {`, so few candidates are false ones.
_OBJECT_END = re.compile(rb"}[ \t\n\r]*(?:(,)[ \t\n\r]*(?={)|(\])\Z)")
# Candidate ends tried for one element before the slow walk takes the body: each failed try
# parses the element's prefix again, so a string full of `}, {` must not make a body quadratic.
_TRIES_PER_EVENT = 8


@dataclass(frozen=True, slots=True)
class Batch:
    """The validated events of one request, in the order they were sent, first copies only."""

    envelopes: list[Envelope]
    received_count: int
    repeated_in_batch_count: int


def split_body(body: bytes, max_events: int) -> list[tuple[Json, bytes]]:
    """Each event of a body (one object, or an array of them) with the bytes it was sent as."""
    items = _split_objects(body, max_events)
    return items if items is not None else _split_body_slowly(body, max_events)


def _split_objects(body: bytes, max_events: int) -> list[tuple[Json, bytes]] | None:
    """The fast path for a body of objects; None when the body needs the slow walk."""
    stripped = body.strip(_BYTES_WHITESPACE)
    if stripped[:1] == b"{":
        try:
            return [(orjson.loads(stripped), stripped)]
        except orjson.JSONDecodeError:
            return None
    if stripped[:1] != b"[":
        return None
    position = len(stripped) - len(stripped[1:].lstrip(_BYTES_WHITESPACE))
    if position == len(stripped) - 1 and stripped.endswith(b"]"):
        return []
    items: list[tuple[Json, bytes]] = []
    while len(items) < max_events and stripped[position : position + 1] == b"{":
        search = position
        for _ in range(_TRIES_PER_EVENT):
            end = _OBJECT_END.search(stripped, search)
            if end is None:
                return None
            raw = stripped[position : end.start() + 1]
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                search = end.start() + 1
                continue
            items.append((value, raw))
            if end.group(2):
                return items
            position = end.end()
            break
        else:
            return None
    return None


def _split_body_slowly(body: bytes, max_events: int) -> list[tuple[Json, bytes]]:
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
            ],
            len(parsed),
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
    for index, (value, raw) in enumerate(items):
        result = validate_event(value, raw, index)
        if isinstance(result, list):
            errors.extend(result)
        else:
            envelopes.append(result)
    if errors:
        raise InvalidBatch(errors, len(items))
    return first_copies(envelopes)


def first_copies(envelopes: Iterable[Envelope]) -> Batch:
    """The batch of valid events, each id once: the first copy kept, the repeats counted."""
    kept: list[Envelope] = []
    seen: set[UUID] = set()
    received = 0
    for envelope in envelopes:
        received += 1
        # The same id twice in one request: the SDK's retries can do this; keep the first.
        if envelope.event_id not in seen:
            seen.add(envelope.event_id)
            kept.append(envelope)
    return Batch(
        envelopes=kept, received_count=received, repeated_in_batch_count=received - len(kept)
    )
