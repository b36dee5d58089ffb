"""The log as NDJSON and back: what `runledger export` writes and `runledger import` reads.

The first line names the format; every other line is one stored record, in log order:

- a received event: its `position` in the exporting log, `topic` (the event's name), stream
  (`originator_id`, `originator_version`), `workspace_id`, `execution_id`, `received_at`, and
  `event`, the bytes that were sent, as they are (or, for an event whose text holds a line
  break, `event_text`: the same bytes as a JSON string, so every record stays one line);
- an aggregate's event (an API key issued or revoked, a deployment registered or released, a
  run requested, started, finished, actuals): `position`, `topic`, stream and `state`, the
  record's own JSON (`state_base64` if it is not JSON on one line).

An import rebuilds each record byte for byte (a received event's header holds its workspace,
execution and receipt time, so these survive) and stores the ones the target does not hold;
positions are the target's own. The log's own secret (the key of position tokens and payload
links) is never exported: each instance keeps its own.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from domain.envelope import validate_event
from domain.log.records import RecordEncoder, decode_record
from domain.position_tokens import TokenSecret
from domain.vocabulary import EVENT_NAMES

FORMAT = "runledger-export"
VERSION = 1
_NOT_EXPORTED = frozenset({get_topic(TokenSecret.Created)})
_LINE_BREAKS = (b"\n", b"\r")


class BadExportLine(ValueError):
    """A line of an export file that is not a record this format describes."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")


def header_line(exported_at: datetime, head: int, selection: dict[str, str | None]) -> bytes:
    """The file's first line: the format, when, the exporting log's end, what was selected."""
    return orjson.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": exported_at.isoformat(),
            "log_position": head,
            **selection,
        }
    )


@dataclass
class Selection:
    """Which records an export writes: a workspace's (all when None) and received events of a
    time range. An aggregate belongs to the workspace its first event names; its history is
    written whole (a key revoked, a release added), whatever the time range."""

    workspace_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    _kept_streams: set[str] = field(default_factory=set)

    def keeps(self, stored: StoredEvent) -> bool:
        if stored.topic in _NOT_EXPORTED:
            return False
        if stored.topic in EVENT_NAMES:
            header, _ = decode_record(stored.state)
            if self.workspace_id is not None and header["workspace_id"] != str(self.workspace_id):
                return False
            received_at = datetime.fromisoformat(header["received_at"])
            return (self.since is None or received_at >= self.since) and (
                self.until is None or received_at < self.until
            )
        if self.workspace_id is None:
            return True
        stream = str(stored.originator_id)
        if stored.originator_version == 1 and _workspace_of(stored.state) == self.workspace_id.hex:
            self._kept_streams.add(stream)
        return stream in self._kept_streams


def _workspace_of(state: bytes) -> str | None:
    # eventsourcing writes a UUID attribute as {"_type_": "uuid_hex", "_data_": hex}.
    try:
        decoded = orjson.loads(state)
    except orjson.JSONDecodeError:
        return None
    workspace = decoded.get("workspace_id") if isinstance(decoded, dict) else None
    if isinstance(workspace, dict) and isinstance(workspace.get("_data_"), str):
        return str(workspace["_data_"])
    return None


def record_line(position: int, stored: StoredEvent) -> bytes:
    """One record as a line (without its line break)."""
    start: dict[str, Any] = {
        "position": position,
        "topic": stored.topic,
        "originator_id": str(stored.originator_id),
        "originator_version": stored.originator_version,
    }
    if stored.topic in EVENT_NAMES:
        header, raw = decode_record(stored.state)
        start |= {
            "workspace_id": header["workspace_id"],
            "execution_id": header["execution_id"],
            "received_at": header["received_at"],
        }
        if any(mark in raw for mark in _LINE_BREAKS):
            return orjson.dumps({**start, "event_text": raw.decode()})
        return orjson.dumps(start)[:-1] + b',"event":' + raw + b"}"
    try:
        orjson.loads(stored.state)
        one_line = not any(mark in stored.state for mark in _LINE_BREAKS)
    except orjson.JSONDecodeError:
        one_line = False
    if not one_line:
        return orjson.dumps({**start, "state_base64": base64.b64encode(stored.state).decode()})
    return orjson.dumps(start)[:-1] + b',"state":' + stored.state + b"}"


def stored_of_line(number: int, line: bytes) -> StoredEvent:
    """The record a line describes, byte for byte as the exporting log held it."""
    try:
        record = orjson.loads(line)
        topic, version = record["topic"], record["originator_version"]
        originator = UUID(record["originator_id"])
        if not isinstance(topic, str) or not isinstance(version, int):
            raise TypeError("topic must be a string and originator_version an integer")
        if topic in EVENT_NAMES:
            raw = _raw_event(line, record)
            # What ingest would refuse must not enter the log another way.
            refused = validate_event(orjson.loads(raw), raw, 0)
            if isinstance(refused, list):
                reasons = "; ".join(f"{error.field} {error.reason}" for error in refused)
                raise ValueError(f"its event is not one ingest accepts: {reasons}")
            encoder = RecordEncoder(
                UUID(record["workspace_id"]), datetime.fromisoformat(record["received_at"])
            )
            state = encoder.encode(UUID(record["execution_id"]), raw)
        elif "state_base64" in record:
            state = base64.b64decode(record["state_base64"], validate=True)
        else:
            state = _member_text(line, record, "state")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise BadExportLine(number, f"not a record of a Runledger export ({error})") from None
    return StoredEvent(
        originator_id=originator, originator_version=version, topic=topic, state=state
    )


def _raw_event(line: bytes, record: dict[str, Any]) -> bytes:
    if "event_text" in record:
        text = record["event_text"]
        if not isinstance(text, str):
            raise TypeError("event_text must be a string")
        return text.encode()
    return _member_text(line, record, "event")


def _member_text(line: bytes, record: dict[str, Any], name: str) -> bytes:
    """The exact text of the member `name`, which `record_line` writes last: from its key (the
    first, since the members before it are plain values) to the line's closing brace. It must
    be the value the line's JSON gives that member."""
    key = b',"' + name.encode() + b'":'
    start = line.index(key) + len(key)
    text = line[start : line.rstrip().rindex(b"}")]
    if orjson.loads(text) != record[name]:
        raise ValueError(f"{name} is not the line's last member")
    return text


def lines_of(records: Iterable[tuple[int, StoredEvent]], selection: Selection) -> Iterable[bytes]:
    """The selected records as lines."""
    for position, stored in records:
        if selection.keeps(stored):
            yield record_line(position, stored)


def read_header(line: bytes) -> dict[str, Any]:
    """The export's first line, checked."""
    try:
        header = orjson.loads(line)
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BadExportLine(1, f"not a {FORMAT} file")
    if header.get("version") != VERSION:
        raise BadExportLine(1, f"format version {header.get('version')!r}, expected {VERSION}")
    return header
