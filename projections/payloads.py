"""The payload store: inputs, outputs and state too large for the hot rows, kept aside.

Datalab answers outputs as links because they can be large, and a detail page that carried a
megabyte per span would cost what its bytes cost whether the reader wanted them or not. So a
value of an event's `body` (`inputs`, `outputs`, or a snapshot's `state`) longer than the
inline limit (`RUNLEDGER_INLINE_PAYLOAD_BYTES`) is projected twice over:

- its bytes, exactly as they were sent, go to `payload_values` (migration 0015), keyed by the
  workspace, the execution, the event's log position and which value it was;
- the event goes on to `events` and every view with the value replaced by a marker,

      {"$runledger_payload":{"position":1234,"value":"outputs","bytes":1048576}}

  so `span_detail`, `executions` and the rest hold a few dozen bytes where the value was.

A read that shows values inline puts them back (`inline`): one statement for all the markers
of what it read, and none when there are none (almost every read). Every other byte of the
event is kept, so the event a reader gets is the one that was sent, byte for byte. A read that
links instead (Datalab's, Velt's and Vellum's detail on request) leaves the markers and links to
the values (domain/payload_links.py).

The split is made by the projection (projections/store.py), not at ingest: the log holds every
event whole, so a replay, or a rebuild with another limit, rebuilds the store. A marker names
a position of its own execution only, and a read looks it up in that execution: a sender who
writes a marker into an event of its own can at most make a read show another value of that
same execution, which its key may read anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client

from domain.json_text import members

DEFAULT_INLINE_PAYLOAD_BYTES = 64 * 1024
"""Values longer than this (in bytes, as sent) are kept in the payload store."""

STORED_VALUES = ("inputs", "outputs", "state")
"""The members of an event's `body` that may be kept aside: the ones that can be large."""

PAYLOAD_COLUMNS = (
    "workspace_id",
    "execution_id",
    "span_id",
    "position",
    "value",
    "size",
    "bytes",
)

_MARKER_KEY = b"$runledger_payload"
# Only the one spelling `marker` writes: a marker found is put back as `marker` writes it.
_MARKER = re.compile(
    rb'\{"\$runledger_payload":\{"position":(\d+),"value":"(inputs|outputs|state)","bytes":(\d+)\}\}'
)

_LOOKUP = """
SELECT position, value, bytes
FROM payload_values
WHERE workspace_id = {workspace_id:UUID} AND execution_id = {execution_id:UUID}
  AND position IN {positions:Array(UInt64)}
LIMIT 1 BY position, value
"""


@dataclass(frozen=True, slots=True)
class Marker:
    """A stored value as a marker names it."""

    position: int
    value: str
    size: int

    @classmethod
    def of(cls, found: re.Match[bytes]) -> Marker:
        position, value, size = found.groups()
        return cls(int(position), value.decode(), int(size))


def marker(position: int, value: str, size: int) -> str:
    """The JSON that stands where a stored value was."""
    return (
        f'{{"{_MARKER_KEY.decode()}":{{"position":{position},"value":"{value}","bytes":{size}}}}}'
    )


def parse_marker(text: str | bytes) -> Marker | None:
    """The marker a whole value is (a span's `outputs` column), or None if it is a value."""
    found = _MARKER.fullmatch(text.encode() if isinstance(text, str) else text)
    return Marker.of(found) if found is not None else None


def replace_markers(text: bytes, replacement: Callable[[Marker], bytes]) -> bytes:
    """`text` with each marker replaced by what `replacement` makes of it (a link, say)."""
    if not has_markers(text):
        return text
    return _MARKER.sub(lambda found: replacement(Marker.of(found)), text)


def has_markers(text: str | bytes) -> bool:
    """Whether a text may hold a marker (a cheap test before the exact one)."""
    if isinstance(text, str):
        return _MARKER_KEY.decode() in text
    return _MARKER_KEY in text


@dataclass(frozen=True, slots=True)
class SplitEvent:
    """An event as the projection stores it: its text with markers, and the values set aside."""

    raw: bytes
    values: list[tuple[str, bytes]]
    """(which value, its bytes as sent), for `payload_values`."""


def split_event(raw: bytes, position: int, limit: int) -> SplitEvent:
    """`raw` with each of its body's `STORED_VALUES` longer than `limit` bytes replaced by a
    marker. An event no longer than the limit is returned as it is, without a parse: that is
    almost every event, and the projection's cost per event must not grow for them.

    The values are found by scanning the text (the `json` module's scanner gives where each
    member ends), so everything around them stays as it was sent. An event this cannot read
    the same way ingest did (a key twice, nesting too deep for the scanner) is kept whole."""
    if len(raw) <= limit:
        return SplitEvent(raw, [])
    text = raw.decode()
    try:
        found = _large_values(text, limit)
    except (ValueError, RecursionError):
        return SplitEvent(raw, [])
    if not found:
        return SplitEvent(raw, [])
    parts, values, at = [], [], 0
    for name, start, end, value in found:
        parts += [text[at:start], marker(position, name, len(value))]
        values.append((name, value))
        at = end
    parts.append(text[at:])
    return SplitEvent("".join(parts).encode(), values)


def _large_values(text: str, limit: int) -> list[tuple[str, int, int, bytes]]:
    """(name, start, end, bytes) of the body's stored values longer than `limit`, in order."""
    top = members(text, 0)
    bodies = [start for key, start, _ in top if key == "body"]
    body = members(text, bodies[0]) if len(bodies) == 1 else []
    names = [key for key, _, _ in top + body]
    if not body or len(names) != len(set(names)):
        # Ingest's parser keeps the last of a repeated key, ClickHouse's the first: leave such
        # events whole rather than guess which of them a reader will see.
        return []
    found = []
    for key, start, end in body:
        if key in STORED_VALUES:
            value = text[start:end].encode()
            if len(value) > limit:
                found.append((key, start, end, value))
    return found


def payload_rows(
    workspace_id: UUID, execution_id: UUID, span_id: UUID, position: int, split: SplitEvent
) -> list[list[Any]]:
    """The event's rows of `payload_values` (`PAYLOAD_COLUMNS`)."""
    return [
        [workspace_id, execution_id, span_id, position, name, len(value), value]
        for name, value in split.values
    ]


def stored_values(
    client: Client, workspace_id: UUID, execution_id: UUID, texts: Sequence[str]
) -> list[str]:
    """Whole values as they were sent: each text, or the stored bytes its markers name."""
    if not any(has_markers(text) for text in texts):
        return list(texts)
    found = inline(client, workspace_id, execution_id, [text.encode() for text in texts])
    return [text.decode() for text in found]


def inline(
    client: Client, workspace_id: UUID, execution_id: UUID, texts: Sequence[bytes]
) -> list[bytes]:
    """`texts` of one execution (event payloads, or values) with every marker replaced by
    the bytes it names: one statement when any has a marker, none otherwise. A marker whose
    value the store does not have (a sender's own text that looks like one) stays."""
    positions = {
        int(found.group(1))
        for text in texts
        if has_markers(text)
        for found in _MARKER.finditer(text)
    }
    if not positions:
        return list(texts)
    result = client.query(
        _LOOKUP,
        parameters={
            "workspace_id": workspace_id,
            "execution_id": execution_id,
            "positions": sorted(positions),
        },
        column_formats={"bytes": "bytes"},
    )
    stored: dict[tuple[int, str], bytes] = {
        (int(position), value): data for position, value, data in result.result_rows
    }

    def put_back(found: Marker) -> bytes:
        data = stored.get((found.position, found.value))
        return (
            data if data is not None else marker(found.position, found.value, found.size).encode()
        )

    return [replace_markers(text, put_back) for text in texts]
