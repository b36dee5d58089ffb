"""The list of a workspace's executions: keyset pages, counts per group.

What a list reads is `execution_index` (migration 0013): one row per execution, sorted by
workspace and start, with what never changes once known. A page in start order is a range read
of that order, a chunk at a time: each chunk's rows are joined with what changes as they run
(clickhouse/queries/execution_rows.sql) and the filter is applied to the joined rows. The part
of the filter that names only write-once fields is also applied to the index itself (the
prefilter), so those rows are never joined. A chunk that matches too few rows is followed by a
bigger one, up to a scan budget per request; a page that hits the budget comes back short,
with a cursor to go on from where the scan stopped.

Orders by a value that changes (end, duration, cost) read every candidate row: they are meant
for a filtered set (a time range, a workflow), and the README says so.
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from clickhouse_connect.driver.client import Client

from domain.errors import InvalidCursor
from projections.clickhouse import query_text
from projections.queries import utc

SPAN_USAGE = query_text("span_usage_rows")
"""Each span's usage (its models, their tokens, its cost): what the list sums per execution."""
_CHUNK_KEYS = query_text("execution_index_keys")
_CHUNK_SOURCE = query_text("execution_index_chunk")
_IN_CHUNK = "execution_id IN {chunk_ids:Array(UUID)}"
ALL_SOURCE = query_text("execution_index_all")
_PAGE = query_text("execution_page")
_PAGE_BY_VALUE = query_text("execution_page_by_value")
_COUNT = query_text("execution_count")
_COUNT_GROUPS = query_text("execution_count_groups")

# The keyset conditions after a cursor: a plain bound on `started_at` that the primary key
# serves, then the exact condition. `@SIGN@` is < (newest first) or >. Times pass as
# microseconds (execution_index_chunk.sql says why).
_AFTER_START = (
    "started_at @SIGN@= fromUnixTimestamp64Micro({after_started:Int64}, 'UTC') AND "
    "(started_at @SIGN@ fromUnixTimestamp64Micro({after_started:Int64}, 'UTC') "
    "OR execution_id @SIGN@ {after_id:UUID})"
)
_AFTER_VALUE = (
    "(missing > {after_missing:UInt8} OR (missing = {after_missing:UInt8} AND "
    "(sort_value, started_at, execution_id) @SIGN@ ({after_value:Float64}, "
    "fromUnixTimestamp64Micro({after_started:Int64}, 'UTC'), {after_id:UUID})))"
)


def fill(template: str, **fragments: str) -> str:
    """A query template with its `@NAME@` markers replaced. Fragments are SQL this module
    writes or compiled conditions: every value a client sent is a server-side parameter.
    (A template's comments name a marker in words, so a fragment never lands in a comment.)"""
    for name, fragment in fragments.items():
        template = template.replace(f"@{name.upper()}@", fragment)
    return template


_ROWS = fill(query_text("execution_rows"), span_usage=SPAN_USAGE)


def rows_query(source: str, where: ListFilter, in_chunk: str = "1") -> str:
    """execution_rows.sql over `source`'s index rows (with the filter's prefilter)."""
    return fill(_ROWS, source=fill(source, prefilter=where.prefilter.sql), in_chunk=in_chunk)


FIRST_CHUNK_ROWS = 256
MAX_CHUNK_ROWS = 16_384
DEFAULT_SCAN_ROWS = 200_000
"""Index rows one page may read before it answers short (a selective filter on a changing
field over a big workspace): bounds a request's cost whatever the filter."""

_CURSOR_VERSION = 1

GROUPS = {
    "status": "status",
    "workflow": "workflow",
    "deployment": "nullIf(deployment, '')",
    "release_tag": "nullIf(release_tag, '')",
    "error.code": "error_code",
    # An execution counts once for each model its spans used.
    "model": "arrayJoin(if(empty(models), [NULL], arrayMap(m -> toNullable(m), models)))",
}
"""What counts can be grouped by, and the expression of each over execution_rows.sql."""


class OrderField(StrEnum):
    """What a list can be ordered by."""

    STARTED_AT = "started_at"
    ENDED_AT = "ended_at"
    DURATION_MS = "duration_ms"
    COST = "cost"


@dataclass(frozen=True, slots=True)
class ListOrder:
    """A list's order; ties are broken by start, then execution id, in the same direction."""

    by: OrderField = OrderField.STARTED_AT
    descending: bool = True

    @property
    def direction(self) -> str:
        return "DESC" if self.descending else "ASC"


@dataclass(frozen=True, slots=True)
class SqlCondition:
    """A boolean ClickHouse expression and the server-side parameters it names."""

    sql: str = "1"
    parameters: dict[str, Any] = field(default_factory=dict)

    def __and__(self, other: SqlCondition) -> SqlCondition:
        if self.sql == "1":
            return other
        if other.sql == "1":
            return self
        clash = self.parameters.keys() & other.parameters.keys()
        if clash:
            raise ValueError(f"conditions share parameter names: {sorted(clash)}")
        return SqlCondition(f"({self.sql}) AND ({other.sql})", self.parameters | other.parameters)


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What a list keeps: `match` over the joined rows (execution_rows.sql's columns) and
    `prefilter`, implied by `match`, over `execution_index`'s columns alone."""

    match: SqlCondition = SqlCondition()
    prefilter: SqlCondition = SqlCondition()
    exact: bool = False
    """Every term of the filter is in the prefilter: the index rows it keeps are, as a rule,
    the rows the filter keeps (a run's, or a row the list skips, may still be dropped)."""


@dataclass(frozen=True, slots=True)
class ExecutionItem:
    """One execution as a list shows it."""

    execution_id: UUID
    listed_position: int
    """Where it was listed: its id as an integer (migration 0014)."""
    status: str
    workflow: str
    deployment_id: UUID | None
    deployment: str
    release_tag: str
    release_id: UUID | None
    external_id: str | None
    metadata: dict[str, Any]
    trace_id: UUID | None
    started_at: datetime
    ended_at: datetime | None
    duration_ms: float | None
    error: dict[str, Any] | None
    models: list[str]
    input_tokens: int
    output_tokens: int
    cost: float
    span_count: int
    has_actuals: bool


@dataclass(frozen=True, slots=True)
class ListPage:
    """A page of executions and the cursor of the next (None after the last)."""

    items: list[ExecutionItem]
    next_cursor: str | None
    scanned_rows: int


def _metadata(raw: dict[str, str]) -> dict[str, Any]:
    return {key: orjson.loads(value) for key, value in sorted(raw.items())}


def _error(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    message, code = value.get("message"), value.get("code")
    return {
        "message": message if isinstance(message, str) else None,
        "code": code if isinstance(code, str) else None,
    }


def item_of(row: dict[str, Any]) -> ExecutionItem:
    """An item from a row of execution_rows.sql."""
    return ExecutionItem(
        execution_id=row["execution_id"],
        listed_position=int(row["listed_position"]),
        status=row["status"],
        workflow=row["workflow"],
        deployment_id=row["deployment_id"],
        deployment=row["deployment"],
        release_tag=row["release_tag"],
        release_id=row["release_id"],
        external_id=row["external_id"],
        metadata=_metadata(row["metadata"]),
        trace_id=row["trace_id"],
        started_at=utc(row["started_at"]) or row["started_at"],
        ended_at=utc(row["ended_at"]),
        duration_ms=row["duration_ms"],
        error=_error(row["error"]),
        models=sorted(row["models"]),
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cost=float(row["cost"]),
        span_count=int(row["span_count"]),
        has_actuals=bool(row["has_actuals"]),
    )


# Cursors: opaque to clients (base64url of a small JSON array); what is inside is the keyset
# position of the last row a page read, and the order it was read in, so a cursor of one order
# is refused by another.


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _moment(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


@dataclass(frozen=True, slots=True)
class _Key:
    """Where a page stopped: the order's value (with whether it was missing), the start and
    the execution id of the last row read."""

    missing: bool
    value: float
    started_at: datetime
    execution_id: UUID

    def encode(self, order: ListOrder) -> str:
        payload = [
            _CURSOR_VERSION,
            order.by.value,
            order.descending,
            self.missing,
            self.value,
            _micros(self.started_at),
            self.execution_id.hex,
        ]
        return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(cursor: str, order: ListOrder) -> _Key:
    """The position a cursor names; `InvalidCursor` for anything this list did not hand out
    (or handed out for another order)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, by, descending, missing, value, micros, execution_id = orjson.loads(raw)
        key = _Key(bool(missing), float(value), _moment(int(micros)), UUID(hex=execution_id))
    except (binascii.Error, ValueError, TypeError, OverflowError, OSError, orjson.JSONDecodeError):
        # OSError: a time past what the platform's gmtime takes (a year beyond 2**31, say).
        raise InvalidCursor("cursor", "is not a cursor this list handed out") from None
    if version != _CURSOR_VERSION or (by, descending) != (order.by.value, order.descending):
        raise InvalidCursor("cursor", "was handed out for another order; start again without it")
    # Any start Python can hold is fine: it reaches ClickHouse as microseconds (an Int64),
    # which ingest may have stored outside DateTime64's calendar (execution_index_chunk.sql).
    return key


# Each order's value as a Float64 that is exact for the column (a time in microseconds).
_SORT_VALUES = {
    OrderField.ENDED_AT: "toFloat64(toUnixTimestamp64Micro(ended_at))",
    OrderField.DURATION_MS: "duration_ms",
    OrderField.COST: "cost",
}


@dataclass(frozen=True, slots=True)
class GroupCount:
    """How many executions one group has (`value` None: the field is missing)."""

    value: str | None
    execution_count: int


def _next_chunk_rows(previous: int, scanned: int, kept: int, wanted: int) -> int:
    """The next chunk's size: enough for the rows still wanted at the rate the filter has kept
    rows so far (with half again to spare), at least twice the last one. Each chunk is a join
    of its ids with tables sorted by execution id, so a few big ones cost less than many."""
    enough = math.ceil(wanted * scanned / kept * 1.5) if kept else MAX_CHUNK_ROWS
    return min(MAX_CHUNK_ROWS, max(FIRST_CHUNK_ROWS, 2 * previous, enough))


class _Asked(NamedTuple):
    """What a page request asks for."""

    workspace_id: UUID
    where: ListFilter
    order: ListOrder
    limit: int
    offset: int


class ExecutionList:
    """Pages and counts of a workspace's executions; give it a client of its own."""

    def __init__(self, client: Client, scan_rows: int = DEFAULT_SCAN_ROWS) -> None:
        self._client = client
        self._scan_rows = scan_rows

    def page(
        self,
        workspace_id: UUID,
        where: ListFilter,
        order: ListOrder,
        limit: int,
        *,
        cursor: str | None = None,
        offset: int = 0,
    ) -> ListPage:
        """Up to `limit` executions after `cursor`, in `order`, past the first `offset` (an
        offset is read through: Vellum's list pages by offset, Runledger's by cursor)."""
        after = decode_cursor(cursor, order) if cursor is not None else None
        asked = _Asked(workspace_id, where, order, limit, offset)
        if order.by is OrderField.STARTED_AT:
            return self._page_by_start(asked, after)
        return self._page_by_value(asked, after)

    def _page_by_start(self, asked: _Asked, after: _Key | None) -> ListPage:
        workspace_id, where, order, limit, offset = asked
        items: list[ExecutionItem] = []
        scanned = 0
        skip = offset
        # A prefilter that is the whole filter keeps (nearly) every row it reads: one more than
        # the page tells whether another page follows. Otherwise rows are dropped after the
        # join, and the chunks grow by what the first ones kept.
        chunk_rows = limit + 1 if where.exact else max(FIRST_CHUNK_ROWS, 2 * limit)
        kept = 0
        last: _Key | None = after
        while True:
            keys, rows = self._chunk(workspace_id, where, order, last, chunk_rows)
            scanned += len(keys)
            for index, key in enumerate(keys):
                if key == last:
                    continue  # the same row twice: an insert the index has not merged yet
                last = key
                row = rows.get(key)
                if row is not None:  # the rows statement returns only rows the list shows
                    kept += 1
                    if skip:
                        skip -= 1
                        continue
                    items.append(item_of(row))
                    if len(items) == limit:
                        more = index + 1 < len(keys) or len(keys) == chunk_rows
                        return ListPage(items, key.encode(order) if more else None, scanned)
            if len(keys) < chunk_rows:
                return ListPage(items, None, scanned)
            if scanned >= self._scan_rows and not offset:
                # A short page: the client goes on from where the scan stopped.
                assert last is not None
                return ListPage(items, last.encode(order), scanned)
            chunk_rows = _next_chunk_rows(chunk_rows, scanned, kept, limit + skip - len(items))

    def _chunk(
        self,
        workspace_id: UUID,
        where: ListFilter,
        order: ListOrder,
        after: _Key | None,
        chunk_rows: int,
    ) -> tuple[list[_Key], dict[_Key, dict[str, Any]]]:
        """The keys of the next chunk in order, and the joined row (by its key) of each the
        list shows.

        Two statements: the keys (the one scan of the index, with the prefilter), then the
        rows of those keys, each table read by the chunk's ids."""
        sign = "<" if order.descending else ">"
        keyset = "1" if after is None else fill(_AFTER_START, sign=sign)
        parameters: dict[str, Any] = {
            **where.prefilter.parameters,
            "workspace_id": workspace_id,
            "chunk_rows": chunk_rows,
        }
        if after is not None:
            parameters["after_started"] = _micros(after.started_at)
            parameters["after_id"] = after.execution_id
        keys_query = fill(
            _CHUNK_KEYS, after=keyset, prefilter=where.prefilter.sql, dir=order.direction
        )
        keys = [
            _Key(False, 0.0, utc(started) or started, execution_id)
            for started, execution_id in self._client.query(
                keys_query, parameters=parameters
            ).result_rows
        ]
        if not keys:
            return [], {}
        starts = [key.started_at for key in keys]
        rows_parameters = {
            **where.match.parameters,
            "workspace_id": workspace_id,
            "chunk_low": _micros(min(starts)),
            "chunk_high": _micros(max(starts)),
            "chunk_ids": list({key.execution_id for key in keys}),
        }
        query = fill(
            _PAGE,
            rows=fill(_ROWS, source=_CHUNK_SOURCE, in_chunk=_IN_CHUNK),
            match=where.match.sql,
            dir=order.direction,
        )
        result = self._client.query(query, parameters=rows_parameters)
        names = result.column_names
        rows: dict[_Key, dict[str, Any]] = {}
        for values in result.result_rows:
            row = dict(zip(names, values, strict=True))
            started = utc(row["started_at"]) or row["started_at"]
            rows.setdefault(_Key(False, 0.0, started, row["execution_id"]), row)
        return keys, rows

    def _page_by_value(self, asked: _Asked, after: _Key | None) -> ListPage:
        workspace_id, where, order, limit, offset = asked
        # NULL (not ended yet) sorts last in either direction.
        keyset = "1"
        parameters: dict[str, Any] = {
            **where.prefilter.parameters,
            **where.match.parameters,
            "workspace_id": workspace_id,
            "limit": limit + 1,
            "offset": offset,
        }
        if after is not None:
            keyset = fill(_AFTER_VALUE, sign="<" if order.descending else ">")
            parameters |= {
                "after_missing": int(after.missing),
                "after_value": after.value,
                "after_started": _micros(after.started_at),
                "after_id": after.execution_id,
            }
        query = fill(
            _PAGE_BY_VALUE,
            rows=rows_query(ALL_SOURCE, where),
            value=_SORT_VALUES[order.by],
            match=where.match.sql,
            after=keyset,
            dir=order.direction,
        )
        result = self._client.query(query, parameters=parameters)
        rows = [dict(zip(result.column_names, v, strict=True)) for v in result.result_rows]
        items = [item_of(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            key = _Key(
                bool(last["missing"]),
                float(last["sort_value"]),
                utc(last["started_at"]) or last["started_at"],
                last["execution_id"],
            )
            next_cursor = key.encode(order)
        return ListPage(items, next_cursor, len(rows))

    def count(
        self, workspace_id: UUID, where: ListFilter, group_by: str | None = None
    ) -> tuple[int, list[GroupCount]]:
        """How many executions match, and how many per group (largest first) when grouped."""
        rows = rows_query(ALL_SOURCE, where)
        parameters = {
            **where.prefilter.parameters,
            **where.match.parameters,
            "workspace_id": workspace_id,
        }
        if group_by is None:
            query = fill(_COUNT, rows=rows, match=where.match.sql)
            return int(self._client.query(query, parameters=parameters).result_rows[0][0]), []
        query = fill(_COUNT_GROUPS, rows=rows, match=where.match.sql, group=GROUPS[group_by])
        result = self._client.query(query, parameters=parameters)
        groups = [GroupCount(value, int(n)) for value, n in result.result_rows]
        if group_by == "model":
            # An execution of two models is in two groups: the total is counted on its own.
            return self.count(workspace_id, where)[0], groups
        return sum(g.execution_count for g in groups), groups
