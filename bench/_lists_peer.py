"""The lists part's peer: the same filtered first page in Arize Phoenix, in the same run.

The executions of `bench/_lists_data.py` (at `Sizes.peer_executions`, with 50 customers so that
one customer's first page is full) are loaded into a database of their own, and the same events
are sent to Phoenix as traces (`bench._phoenix.spans_of`: a root span per execution, a node
span where there is one), each root span with OpenInference's `metadata` attribute (the JSON
object of the execution's release context). Then, interleaved:

- ours: `GET /v1/workflow-executions?q=metadata.customer = 'c17'&limit=50` over HTTP;
- Phoenix: its GraphQL API, the project's spans with `filterCondition: "parent_id is None and
  metadata['customer'] == 'c17'"` (root spans of that customer), newest first, `first: 50` (as
  its web UI's spans table asks). Its REST `GET /v1/projects/{project}/spans` has no attribute
  filter, and 20.26.1's `Project.spans` no `rootSpansOnly` argument.

Both are checked to list the same executions (by their start times: Phoenix's span ids are the
SDK's own).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson

from bench._inthread import app_in_thread
from bench._latency import interleaved
from bench._lists_data import load
from bench._phoenix import ensure_venv, running_phoenix, send, spans_of
from bench._runners import WORKSPACE
from bench._stores import Env
from domain.keys import workspace_id_for
from projections.clickhouse import connect

PROJECT = "lists"
DATABASE = "lists_peer"
CUSTOMERS = 50
Q = "metadata.customer = 'c17'"
PHOENIX_FILTER = "parent_id is None and metadata['customer'] == 'c17'"
LIMIT = 50

_PROJECTS = "{ projects { edges { node { id name } } } }"
_SPANS = """
query ($id: ID!, $filter: String!, $first: Int!) {
  node(id: $id) {
    ... on Project {
      spans(first: $first, filterCondition: $filter,
            sort: {col: startTime, dir: desc}) {
        edges { node { name startTime } }
      }
    }
  }
}
"""


def _log(message: str) -> None:
    print(message, flush=True)


def _traces(client: Any, workspace_id: UUID) -> list[list[dict[str, Any]]]:
    """Every execution's events as one trace, the root span carrying the metadata."""
    rows = client.query(
        "SELECT groupArray(payload) FROM"
        " (SELECT execution_id, payload FROM events WHERE workspace_id = {w:UUID}"
        "  ORDER BY execution_id, position)"
        " GROUP BY execution_id",
        parameters={"w": workspace_id},
    ).result_rows
    traces = []
    for (payloads,) in rows:
        events = [orjson.loads(payload) for payload in payloads]
        spans = spans_of(events)
        metadata = (events[0].get("parent") or {}).get("metadata")
        spans[0]["attributes"]["metadata"] = orjson.dumps(metadata).decode()
        traces.append(spans)
    return traces


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def measure_peer(
    env: Env, url: str, executions: int, repetitions: int, budget: float, logs: Path
) -> dict[str, Any]:
    """Ours and Phoenix's filtered first page; `{"skipped": why}` without Phoenix."""
    reason = ensure_venv(logs / "phoenix-install.log")
    if reason is not None:
        _log(f"lists, peer: SKIPPED, {reason}")
        return {"skipped": reason}
    workspace_id = workspace_id_for(WORKSPACE)
    writer = connect(url, DATABASE)
    try:
        loaded = load(writer, workspace_id, executions, executions, CUSTOMERS)
        traces = _traces(writer, workspace_id)
        span_total = sum(len(spans) for spans in traces)
        with running_phoenix(logs / "phoenix-lists.log") as phoenix:
            sent = send(phoenix, PROJECT, traces, 1, span_total, 600)
            stored_seconds = sent.queryable_at - sent.started_at
            _log(
                f"  peer: {span_total:,} spans ({executions:,} executions) queryable in"
                f" Phoenix after {stored_seconds:.1f} s"
            )
            with (
                app_in_thread(env, WORKSPACE, DATABASE) as server,
                httpx.Client(
                    base_url=server.base_url, headers={"X-API-KEY": server.api_key}, timeout=120
                ) as ours_http,
                httpx.Client(base_url=phoenix.base_url, timeout=120) as phoenix_http,
            ):
                variables = {
                    "id": _project_id(phoenix_http),
                    "filter": PHOENIX_FILTER,
                    "first": LIMIT,
                }

                def ours(_: int) -> list[datetime]:
                    response = ours_http.get(
                        "/v1/workflow-executions", params={"q": Q, "limit": LIMIT}
                    )
                    if response.status_code != 200:
                        raise RuntimeError(f"the list answered {response.status_code}")
                    results = orjson.loads(response.content)["results"]
                    return [_moment(item["started_at"]) for item in results]

                def theirs(_: int) -> list[datetime]:
                    response = phoenix_http.post(
                        "/graphql",
                        json={"query": _SPANS, "variables": variables},
                    )
                    body = orjson.loads(response.content)
                    if response.status_code != 200 or body.get("errors"):
                        raise RuntimeError(f"Phoenix answered {response.status_code}: {body}")
                    edges = body["data"]["node"]["spans"]["edges"]
                    return [_moment(edge["node"]["startTime"]) for edge in edges]

                ours_starts, their_starts = ours(0), theirs(0)
                if ours_starts != their_starts or not ours_starts:
                    raise AssertionError(
                        f"Phoenix listed {len(their_starts)} root spans, we {len(ours_starts)}:"
                        f" not the same executions ({their_starts[:3]}, {ours_starts[:3]})"
                    )
                timed = interleaved({"ours": ours, "phoenix": theirs}, repetitions, budget)
    finally:
        writer.command("DROP DATABASE IF EXISTS {d:Identifier} SYNC", parameters={"d": DATABASE})
        writer.close()
    for name, samples in timed.items():
        _log(
            f"  peer, {name}: p50 {samples.p50 * 1e3:.1f} p99 {samples.p99 * 1e3:.1f} ms"
            f" ({samples.count} calls)"
        )
    return {
        "executions": executions,
        "customers": CUSTOMERS,
        "q": Q,
        "phoenix_filter": PHOENIX_FILTER,
        "spans": span_total,
        "phoenix_stored_seconds": stored_seconds,
        "load": loaded,
        **{name: samples.summary() for name, samples in timed.items()},
    }


def _project_id(http: httpx.Client) -> str:
    response = http.post("/graphql", json={"query": _PROJECTS})
    response.raise_for_status()
    for edge in response.json()["data"]["projects"]["edges"]:
        if edge["node"]["name"] == PROJECT:
            return str(edge["node"]["id"])
    raise RuntimeError(f"Phoenix has no project {PROJECT!r}")
