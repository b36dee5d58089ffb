"""Issue 24's history read: one wide execution's whole NDJSON stream beside the log's own read
of the same rows.

The execution is `bench._synthetic.wide_execution` (the detail part's: a root workflow span and
N node spans under it, each initiated and fulfilled, small bodies), posted over HTTP to a
`runledger serve` child in batches, and made visible. Then, interleaved:

- stream: `GET /v1/workflow-executions/{id}/events` with `Accept: application/x-ndjson`, read
  to its end by one keep-alive client (the lines counted, not parsed: a client's own parse is
  no part of the server's answer);
- log: `Ledger.read` from position 0 in pages of 1,000 (the stream's page) over the whole log,
  which holds this execution alone (plus the key the server was started with, which `read`
  skips), in the benchmark process: the same rows decoded to what a line carries (position,
  receipt time, the bytes that were sent), without formatting them or sending them. That is
  the log's own reader, as the suite's raw append is `Ledger.append`, not a bare INSERT;
- sql (SQLite only, no goal): `SELECT rowid, state FROM stored_events ORDER BY rowid` through
  Python's sqlite3, nothing decoded: the floor under any reader of that file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

import httpx
import orjson

from bench._synthetic import WideExecution, wide_execution
from domain.log.ledger import Ledger

NDJSON = "application/x-ndjson"
# Events per POST: about 0.5 MB a body, far under the server's 16 MiB and 10,000-event limits.
POST_EVENTS = 1000
# The stream's own page (api/routes/history.py reads a thousand events at a time).
READ_PAGE = 1000


def build(workspace_id: UUID, node_count: int) -> WideExecution:
    """The execution: a root workflow span and `node_count` node spans, 2 events each."""
    return wide_execution(workspace_id, node_count, 0, datetime.now(UTC))


def post(client: httpx.Client, made: WideExecution) -> str:
    """Post every event in log order; the last answer's position token."""
    token = ""
    for start in range(0, len(made.events), POST_EVENTS):
        batch = made.events[start : start + POST_EVENTS]
        body = b"[" + b",".join(event.raw for event in batch) + b"]"
        response = client.post("/monitoring/v1/events", content=body)
        if response.status_code != 200:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
        answer = orjson.loads(response.content)
        if answer["accepted_count"] != len(batch):
            raise RuntimeError(f"ingest accepted {answer['accepted_count']} of {len(batch)}")
        token = answer["log_position"]
    return token


def wait_visible(
    client: httpx.Client, execution_id: UUID, token: str, timeout_seconds: float
) -> None:
    """Until the history route holds everything up to `token` (read-your-writes)."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        response = client.get(
            f"/v1/workflow-executions/{execution_id}/events",
            params={"limit": 1, "min_log_position": token},
        )
        if response.status_code == 200:
            return
        # 503: the server held the request as long as it waits for a position; ask again.
        if response.status_code != 503 or time.monotonic() > deadline:
            raise RuntimeError(
                f"the history answered {response.status_code}: {response.text[:300]}"
            )


def check_stream(client: httpx.Client, made: WideExecution) -> int:
    """Untimed: the stream holds every event posted, in order, as sent; its size in bytes."""
    response = client.get(
        f"/v1/workflow-executions/{made.execution_id}/events", headers={"Accept": NDJSON}
    )
    response.raise_for_status()
    lines = response.content.splitlines()
    if len(lines) != len(made.events):
        raise RuntimeError(f"the stream has {len(lines)} lines for {len(made.events)} events")
    for line, event in zip(lines, made.events, strict=True):
        # The event goes out as the bytes that were sent (orjson writes no line breaks).
        if not line.endswith(b',"event":' + event.raw + b"}"):
            raise RuntimeError(f"a line does not end with the event sent: {line[:200]!r}")
    return len(response.content)


def stream_reader(
    client: httpx.Client, execution_id: UUID, event_count: int
) -> Callable[[int], None]:
    """One call: the whole stream read to its end, its lines counted."""
    path = f"/v1/workflow-executions/{execution_id}/events"
    headers = {"Accept": NDJSON}

    def call(_: int) -> None:
        lines = 0
        with client.stream("GET", path, headers=headers) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
        if lines != event_count:
            raise RuntimeError(f"the stream gave {lines} lines of {event_count}")

    return call


def log_reader(ledger: Ledger, event_count: int) -> Callable[[int], None]:
    """One call: `Ledger.read` over the whole log, a page of 1,000 at a time."""

    def call(_: int) -> None:
        found = 0
        after = 0
        while True:
            page = ledger.read(after, READ_PAGE)
            if not page:
                break
            found += len(page)
            after = page[-1].position
        if found != event_count:
            raise RuntimeError(f"the log read gave {found} events of {event_count}")

    return call


def sql_reader(path: str, record_count: int) -> Callable[[int], None]:
    """One call: every row's rowid (its position) and state from the SQLite file, undecoded."""
    # Read-only, so the server's writer is never in its way.
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    def call(_: int) -> None:
        rows = connection.execute(
            "SELECT rowid, state FROM stored_events ORDER BY rowid"
        ).fetchall()
        if len(rows) != record_count:
            raise RuntimeError(f"the SELECT gave {len(rows)} rows of {record_count}")

    return call
