"""Logged events as one ClickHouse Native block for the `events` table (the views derive the rest).

The events were validated at ingest, so this reads the few envelope fields it needs straight
from the parsed JSON: re-validating would double the projection's cost per event.

The block is encoded here, a column at a time, instead of by clickhouse-connect's `insert`,
whose encoders convert value by value in Python (a UUID string to an int to two 8-byte halves,
a datetime to ticks through a float): that was the larger part of a projection batch's Python
time, all of it holding the GIL that the ingest worker and the event loop need. Here a UUID
column is one hex decode and one byte swap, a number column one `struct.pack`.
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import orjson

from domain.log import LoggedEvent

# Each column of `events` (clickhouse/migrations/0001_events.sql) with the type the block
# declares. `name` goes as String into the table's LowCardinality(String): the server converts
# a Native column to the table's type (input_format_native_allow_types_conversion, on by
# default), which costs less than LowCardinality's dictionary encoding built here.
EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("workspace_id", "UUID"),
    ("execution_id", "UUID"),
    ("span_id", "UUID"),
    ("position", "UInt64"),
    ("event_id", "UUID"),
    ("name", "String"),
    ("parent_span_id", "Nullable(UUID)"),
    ("trace_id", "UUID"),
    ("timestamp", "DateTime64(6, 'UTC')"),
    ("received_at", "DateTime64(6, 'UTC')"),
    ("payload", "String"),
)
EVENT_COLUMN_NAMES = tuple(name for name, _ in EVENT_COLUMNS)

# Parent contexts that are spans of the trace; a span under any other context (EXTERNAL,
# API_REQUEST, ...) is a root of the tree.
_SPAN_PARENTS = frozenset({"WORKFLOW", "WORKFLOW_NODE"})
_NIL_UUID = "00000000-0000-0000-0000-000000000000"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)  # DateTime64(6) counts microseconds


def event_block(events: Sequence[LoggedEvent], payloads: Sequence[bytes] | None = None) -> bytes:
    """The Native block of `events`' rows, in log order (`EVENT_COLUMNS`' columns); each row's
    `payload` is the event as sent, or its text in `payloads` (projections/payloads.py).

    The ids were checked at ingest to be canonical UUID strings (domain/envelope.py), which
    is what lets a column of them be decoded as one run of hex digits.
    """
    span_ids, event_ids, parent_span_ids, trace_ids, timestamps = [], [], [], [], []
    for event in events:
        body = orjson.loads(event.raw)
        parent = body.get("parent")
        span_ids.append(body["span_id"])
        event_ids.append(body["id"])
        parent_span_ids.append(
            parent["span_id"] if parent and parent.get("type") in _SPAN_PARENTS else None
        )
        trace_ids.append(body["trace_id"])
        timestamps.append(datetime.fromisoformat(body["timestamp"]))
    count = len(events)
    columns = (
        _uuid_objects([event.workspace_id for event in events]),
        _uuid_objects([event.execution_id for event in events]),
        _uuid_texts(span_ids),
        struct.pack(f"<{count}Q", *(event.position for event in events)),
        _uuid_texts(event_ids),
        _strings(event.name.encode() for event in events),
        bytes(parent is None for parent in parent_span_ids)
        + _uuid_texts([parent or _NIL_UUID for parent in parent_span_ids]),
        _uuid_texts(trace_ids),
        _ticks(timestamps),
        _ticks([event.received_at for event in events]),
        _strings(payloads if payloads is not None else (event.raw for event in events)),
    )
    block = [_varint(len(EVENT_COLUMNS)), _varint(count)]
    for (name, type_), data in zip(EVENT_COLUMNS, columns, strict=True):
        block += [_string(name.encode()), _string(type_.encode()), data]
    return b"".join(block)


def _uuid_texts(texts: list[str]) -> bytes:
    if any(len(text) != 36 for text in texts):
        # An id of another length would shift every id after it into the wrong rows.
        raise ValueError("a UUID column holds a value that is not a canonical UUID string")
    return _uuid_halves(bytes.fromhex("".join(texts).replace("-", "")))


def _uuid_objects(ids: list[UUID]) -> bytes:
    return _uuid_halves(b"".join(uuid.bytes for uuid in ids))


def _uuid_halves(big_endian: bytes) -> bytes:
    # ClickHouse writes a UUID as two little-endian UInt64, the high half first: each 8-byte
    # half of the big-endian form reversed, whatever this machine's byte order.
    words = array("Q", big_endian)
    words.byteswap()
    return words.tobytes()


def _ticks(moments: list[datetime]) -> bytes:
    # Exact integer microseconds since the epoch (a float timestamp would round some); the
    # moments carry their zone (checked at ingest; received_at is taken in UTC).
    return struct.pack(f"<{len(moments)}q", *((moment - _EPOCH) // _TICK for moment in moments))


def _strings(values: Iterable[bytes]) -> bytes:
    out = bytearray()
    for value in values:
        length = len(value)
        # Inline the one- and two-byte prefixes: a batch has two string columns, payloads of
        # a few hundred bytes to a few KB, and a call per value showed in the profile.
        if length < 0x80:
            out.append(length)
        elif length < 0x4000:
            out += bytes((length & 0x7F | 0x80, length >> 7))
        else:
            out += _varint(length)
        out += value
    return bytes(out)


def _string(value: bytes) -> bytes:
    return _varint(len(value)) + value


def _varint(number: int) -> bytes:
    # LEB128, as ClickHouse prefixes strings and counts in Native.
    out = bytearray()
    while number >= 0x80:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)
