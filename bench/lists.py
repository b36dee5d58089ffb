"""Issue 21's lists: filtered pages and counts over a million executions, beside bare ClickHouse.

- Data: `bench/_lists_data.py` writes the executions straight into `events` (a few large
  `INSERT … SELECT … FROM numbers()`); the materialized views build every table the lists read.
  `span_detail_mv` is dropped first: no list reads `span_detail`, and it is most of what the
  views cost (bench/README.md, the status part).
- Ours: `GET /v1/workflow-executions?q=&limit=50[&cursor=]` and `/count?group_by=status` of the
  real app under uvicorn in a thread of this process (chDB admits one process per path, and the
  bare statements must read the same database: `bench/_inthread.py`), projector off.
- Bare: one hand-written statement per page (`bench/_lists_bare.py`) through clickhouse-connect
  on the same engine, checked to return exactly the ids the route returned.
- Each filter's first page and the page after a cursor 10,000 executions into its result (or,
  when the result is shorter, its last full page; none when it has one page), interleaved.
- The peer: the same executions at 5,000 (`peer_executions`) as root spans in Arize Phoenix,
  the filtered first page through its GraphQL API beside ours (`bench/_lists_peer.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson

from bench._inthread import app_in_thread
from bench._latency import Samples, interleaved
from bench._lists_bare import (
    BOTTOM_STARTED,
    COUNT_BY_STATUS,
    TOP_ID,
    TOP_STARTED,
    ListCase,
    cases,
)
from bench._lists_data import BASE, RARE_WORD, load
from bench._lists_peer import measure_peer
from bench._runners import WORKSPACE
from bench._stores import Env
from domain.keys import workspace_id_for
from projections.clickhouse import connect
from projections.listing import ListOrder, _Key

LIMIT = 50
DEPTH = 10_000
DATABASE = "lists"
# A day inside the data (which spans BASE and the following days): filter (b)'s range.
DAY = datetime.fromisoformat(BASE).replace(tzinfo=UTC).replace(day=25)


@dataclass(frozen=True)
class Sizes:
    """How many executions, in how many inserts; how long to time."""

    executions: int
    chunk: int
    page_repetitions: int
    page_budget_seconds: float
    count_repetitions: int
    count_budget_seconds: float
    peer_executions: int
    peer_repetitions: int
    peer_budget_seconds: float


FULL = Sizes(1_000_000, 250_000, 200, 120, 10, 60, 5_000, 200, 40)
QUICK = Sizes(20_000, 10_000, 20, 10, 5, 10, 500, 20, 10)


def _log(message: str) -> None:
    print(message, flush=True)


def _cursor(started_at: datetime, execution_id: UUID) -> str:
    """The route's own cursor after this row (newest first)."""
    return _Key(False, 0.0, started_at.replace(tzinfo=UTC), execution_id).encode(ListOrder())


class _Page:
    """One measured page: its route call and its bare statement, checked to agree."""

    def __init__(
        self,
        http: httpx.Client,
        client: Any,
        workspace_id: UUID,
        case: ListCase,
        after: tuple[datetime, UUID] | None,
    ) -> None:
        self.http, self.client, self.case = http, client, case
        self.params: dict[str, str | int] = {"q": case.q, "limit": LIMIT}
        high_started, high_id = TOP_STARTED, TOP_ID
        if after is not None:
            high_started, high_id = after
            self.params["cursor"] = _cursor(*after)
        ids, starts = self.route()
        # The page's range: down to its last row's start (a short page: to the beginning).
        low = min(starts) if len(ids) == LIMIT else BOTTOM_STARTED
        self.statement = case.statement()
        self.parameters = {
            **case.parameters,
            "workspace_id": workspace_id,
            "low": low,
            "high_started": high_started,
            "high_id": high_id,
            "limit": LIMIT,
            "offset": 0,
        }
        bare_ids = self.bare()
        if bare_ids != ids:
            raise AssertionError(
                f"{case.key}: the bare statement returned {len(bare_ids)} ids, the route"
                f" {len(ids)}: not the same executions"
            )
        self.ids = ids

    def route(self) -> tuple[list[UUID], list[datetime]]:
        response = self.http.get("/v1/workflow-executions", params=self.params)
        if response.status_code != 200:
            raise RuntimeError(f"the list answered {response.status_code}: {response.text[:300]}")
        results = orjson.loads(response.content)["results"]
        return (
            [UUID(item["id"]) for item in results],
            [datetime.fromisoformat(item["started_at"].replace("Z", "+00:00")) for item in results],
        )

    def bare(self) -> list[UUID]:
        rows = self.client.query(self.statement, parameters=self.parameters).result_rows
        return [row[0] for row in rows]


def _ignoring_index(call: Callable[[], object]) -> Callable[[int], object]:
    return lambda _: call()


def _truth(client: Any, workspace_id: UUID, case: ListCase) -> tuple[int, Callable[[int], Any]]:
    """How many executions the filter keeps, and the (start, id) at a place in its result
    (newest first): the bare statement over the whole index, untimed."""
    parameters = {
        **case.parameters,
        "workspace_id": workspace_id,
        "low": BOTTOM_STARTED,
        "high_started": TOP_STARTED,
        "high_id": TOP_ID,
    }
    statement = case.statement()
    counted = client.query(
        "SELECT count() FROM (" + statement + ")",
        parameters={**parameters, "limit": 10**12, "offset": 0},
    ).result_rows[0][0]

    def at(place: int) -> tuple[datetime, UUID]:
        row = client.query(statement, parameters={**parameters, "limit": 1, "offset": place})
        found = row.result_rows[0]
        return found[1], found[0]

    return int(counted), at


def measure(env: Env, url: str, sizes: Sizes, logs: Path) -> dict[str, Any]:
    """Load, then time every filter's pages and the count beside their bare statements."""
    workspace_id = workspace_id_for(WORKSPACE)
    writer = connect(url, DATABASE)
    reader = connect(url, DATABASE)
    try:
        loaded = load(writer, workspace_id, sizes.executions, sizes.chunk)
        external_id = f"order-{sizes.executions * 3 // 5}"
        found_cases = cases(external_id, DAY, RARE_WORD)
        with (
            app_in_thread(env, WORKSPACE, DATABASE) as server,
            httpx.Client(
                base_url=server.base_url, headers={"X-API-KEY": server.api_key}, timeout=120
            ) as http,
        ):
            pages: dict[str, _Page] = {}
            shapes: dict[str, Any] = {}
            for case in found_cases:
                matched, at = _truth(reader, workspace_id, case)
                first = _Page(http, reader, workspace_id, case, None)
                pages[f"{case.key}/first"] = first
                depth = DEPTH if matched >= DEPTH + LIMIT else max(0, matched - LIMIT)
                shape: dict[str, Any] = {"q": case.q, "matched": matched, "depth": None}
                if depth > LIMIT:
                    after = at(depth - 1)
                    deep = _Page(http, reader, workspace_id, case, after)
                    if deep.ids[0] != at(depth)[1]:
                        raise AssertionError(f"{case.key}: the deep page is not at {depth:,}")
                    pages[f"{case.key}/deep"] = deep
                    shape["depth"] = depth
                shapes[case.key] = shape
                _log(
                    f"  {case.key}: {case.q!r} keeps {matched:,}; first page {len(first.ids)}"
                    + (f", deep page at {depth:,}" if shape["depth"] else ", no deep page")
                )
            calls: dict[str, Callable[[int], object]] = {}
            for name, page in pages.items():
                calls[f"ours/{name}"] = _ignoring_index(page.route)
                calls[f"bare/{name}"] = _ignoring_index(page.bare)
            timed = interleaved(calls, sizes.page_repetitions, sizes.page_budget_seconds)
            counts = _counts(http, reader, workspace_id, sizes)
        for name in pages:
            ours, bare = timed[f"ours/{name}"], timed[f"bare/{name}"]
            _log(
                f"  {name}: ours p50 {ours.p50 * 1e3:.1f} p99 {ours.p99 * 1e3:.1f} ms, bare"
                f" p50 {bare.p50 * 1e3:.1f} p99 {bare.p99 * 1e3:.1f} ms ({ours.count} calls)"
            )
    finally:
        writer.command("DROP DATABASE IF EXISTS {d:Identifier} SYNC", parameters={"d": DATABASE})
        reader.close()
        writer.close()
    peer = measure_peer(
        env, url, sizes.peer_executions, sizes.peer_repetitions, sizes.peer_budget_seconds, logs
    )
    return {
        "load": loaded,
        "cases": shapes,
        "pages": {name: samples.summary() for name, samples in timed.items()},
        "count": counts,
        "peer": peer,
    }


def lists_table(found: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """Every page and the count: ours and the bare statement's p50 and p99."""
    rows = []
    for key, case in found["cases"].items():
        for page in ("first", "deep"):
            name = f"{key}/{page}"
            if f"ours/{name}" not in found["pages"]:
                continue
            ours, bare = found["pages"][f"ours/{name}"], found["pages"][f"bare/{name}"]
            where = "first" if page == "first" else f"after {case['depth']:,}"
            rows.append(_row(f"{case['q']} ({case['matched']:,} kept)", where, ours, bare))
    count = found["count"]
    rows.append(_row("count by status", "-", count["ours"], count["bare"]))
    header = ["filter", "page", "ours p50", "ours p99", "bare p50", "bare p99", "calls"]
    executions = found["load"]["executions"]
    return (
        f"Lists at {executions:,} executions, ours over HTTP beside one bare statement",
        header,
        rows,
    )


def _row(what: str, where: str, ours: dict[str, Any], bare: dict[str, Any]) -> list[str]:
    return [
        what,
        where,
        f"{ours['p50_seconds'] * 1e3:.1f} ms",
        f"{ours['p99_seconds'] * 1e3:.1f} ms",
        f"{bare['p50_seconds'] * 1e3:.1f} ms",
        f"{bare['p99_seconds'] * 1e3:.1f} ms",
        str(ours["count"]),
    ]


def _counts(http: httpx.Client, client: Any, workspace_id: UUID, sizes: Sizes) -> dict[str, Any]:
    """`/count?group_by=status` over every execution beside the bare GROUP BY."""

    def ours(_: int) -> dict[str, int]:
        response = http.get("/v1/workflow-executions/count", params={"group_by": "status"})
        if response.status_code != 200:
            raise RuntimeError(f"count answered {response.status_code}: {response.text[:300]}")
        return {g["value"]: g["count"] for g in orjson.loads(response.content)["groups"]}

    def bare(_: int) -> dict[str, int]:
        rows = client.query(COUNT_BY_STATUS, parameters={"workspace_id": workspace_id})
        return {str(status): int(n) for status, n in rows.result_rows}

    if ours(0) != bare(0):
        raise AssertionError(f"count: the route says {ours(0)}, the bare statement {bare(0)}")
    _log(f"  count by status: {bare(0)}")
    timed: dict[str, Samples] = interleaved(
        {"ours": ours, "bare": bare},
        sizes.count_repetitions,
        sizes.count_budget_seconds,
        warmup=1,
    )
    for name, samples in timed.items():
        _log(f"  count, {name}: p50 {samples.p50 * 1e3:.1f} p99 {samples.p99 * 1e3:.1f} ms")
    return {"groups": bare(0), **{name: s.summary() for name, s in timed.items()}}
