"""Each span's own bytes, exactly as an OTLP request carried them.

The log must hold what was received, for audit. A span's mapped events are Runledger's
writing; the bytes the exporter sent for that span are kept beside them (its terminal event's
`body.otel.received`, domain/otel_mapping.py): a protobuf `Span` message as its bytes, a JSON
span object as its text. Parsers give neither, so these find where each span sits in the body,
keyed by its place (resource spans, scope spans, span) as domain/otlp.py numbers them.

Protobuf's wire format is a run of (field number, wire type) keys and values, a message's
fields each a length-prefixed run of its own, and repeated fields keep their order: the
request's field 1 is each `ResourceSpans`, whose field 2 is each `ScopeSpans`, whose field 2
is each `Span`.
"""

from __future__ import annotations

from collections.abc import Iterator

from domain.json_text import elements, members

Place = tuple[int, int, int]
"""(resource spans, scope spans, span) indexes of a span in its request."""

_LENGTH_DELIMITED = 2


def protobuf_spans(body: bytes) -> dict[Place, bytes]:
    """Each span's `Span` message bytes by its place; empty when the body cannot be walked
    (the parser, which runs first, would have refused it)."""
    found: dict[Place, bytes] = {}
    try:
        resources = _submessages(body, 0, len(body), 1)
        for r, (resource_start, resource_end) in enumerate(resources):
            scopes = _submessages(body, resource_start, resource_end, 2)
            for s, (scope_start, scope_end) in enumerate(scopes):
                spans = _submessages(body, scope_start, scope_end, 2)
                for n, (span_start, span_end) in enumerate(spans):
                    found[(r, s, n)] = body[span_start:span_end]
    except ValueError:
        return {}
    return found


def _submessages(body: bytes, start: int, end: int, field: int) -> list[tuple[int, int]]:
    """(start, end) of each length-delimited value of `field` in `body[start:end]`."""
    return [
        (value_start, value_end)
        for number, wire_type, value_start, value_end in _fields(body, start, end)
        if number == field and wire_type == _LENGTH_DELIMITED
    ]


def _fields(body: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    at = start
    while at < end:
        key, at = _varint(body, at, end)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            _, value_end = _varint(body, at, end)
        elif wire_type == 1:
            value_end = at + 8
        elif wire_type == _LENGTH_DELIMITED:
            length, at = _varint(body, at, end)
            value_end = at + length
        elif wire_type == 5:
            value_end = at + 4
        else:
            raise ValueError(f"wire type {wire_type}")
        if value_end > end:
            raise ValueError("a field runs past its message")
        yield number, wire_type, at, value_end
        at = value_end


def _varint(body: bytes, at: int, end: int) -> tuple[int, int]:
    value, shift = 0, 0
    while at < end:
        byte = body[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 63:
            break
    raise ValueError("a varint is cut short")


def json_spans(body: bytes) -> dict[Place, bytes]:
    """Each span object's text by its place; empty when a name the parser reads two ways is
    there twice (then which of them it read is not known)."""
    text = body.decode()
    top = len(text) - len(text.lstrip(" \t\n\r"))
    found: dict[Place, bytes] = {}
    try:
        for r, resource in enumerate(_array(text, top, "resourceSpans", "resource_spans")):
            for s, scope in enumerate(_array(text, resource[0], "scopeSpans", "scope_spans")):
                for n, (start, end) in enumerate(_array(text, scope[0], "spans")):
                    found[(r, s, n)] = text[start:end].encode()
    except ValueError:
        return {}
    return found


def _array(text: str, start: int, *names: str) -> list[tuple[int, int]]:
    """The elements of the object's member named any of `names`; none without it."""
    if text[start : start + 1] != "{":
        return []
    named = [(key, value_start) for key, value_start, _ in members(text, start) if key in names]
    if len(named) > 1:
        raise ValueError("a member given twice")
    if not named or text[named[0][1] : named[0][1] + 1] != "[":
        return []
    return elements(text, named[0][1])
