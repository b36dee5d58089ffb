"""How one received event is laid out in eventsourcing's stored-event row.

- `originator_id`: `uuid5(workspace_id, event id)`, so the same event id in two workspaces is
  two events and the same event re-delivered is the same key.
- `originator_version`: always 1; each event is a stream of one.
- `topic`: the Vellum event name, so `SELECT topic, count(*) FROM stored_events GROUP BY 1`
  reads naturally to an auditor.
- `state`: a one-line JSON header (workspace, execution, receive time), a newline, then the
  event exactly as the sender sent it. orjson never writes a raw newline, so the first one
  ends the header.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import orjson

STREAM_VERSION = 1
_SEPARATOR = b"\n"


def event_stream_id(workspace_id: UUID, event_id: UUID) -> UUID:
    """The stored-event stream id of an event: unique per workspace and event id."""
    return uuid5(workspace_id, event_id.hex)


class RecordEncoder:
    """Encodes the records of one append: the header's constant parts are built once."""

    def __init__(self, workspace_id: UUID, received_at: datetime) -> None:
        # The same bytes orjson writes for the header dict, split around the execution id.
        self._prefix = b'{"workspace_id":"%s","execution_id":"' % str(workspace_id).encode()
        self._suffix = b'","received_at":%s}' % orjson.dumps(received_at.isoformat()) + _SEPARATOR

    def encode(self, execution_id: UUID, raw: bytes) -> bytes:
        """The stored state of one event of the append."""
        return self._prefix + str(execution_id).encode() + self._suffix + raw


def decode_record(state: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and the sent bytes of a stored state."""
    header, _, raw = state.partition(_SEPARATOR)
    decoded: dict[str, Any] = orjson.loads(header)
    return decoded, raw
