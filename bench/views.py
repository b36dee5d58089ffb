"""Issue 23: Velt's and Datalab's reads of an execution whose node outputs are 1 MiB each, beside
the same execution with small outputs, in one run.

`runledger serve` on the embedded default (SQLite log, chDB, projector thread) in its own
process; two executions of `nodes` nodes each, posted over HTTP, the same but for their node
outputs (`{"text": ...}` of 1 MiB, or of 16 bytes; the workflow's own outputs are small in
both). The 1 MiB outputs are over the inline limit, so the payload store holds them. Then,
interleaved, each read of each execution: Vellum's detail page (`span_limit` 100, outputs
inline as Vellum's clients expect, and with `payloads=links`), Velt's read (every step,
outputs inline as Velt's shape has them, and with links) and Datalab's (every step, outputs
as signed links). The goal is Datalab's read of the large
execution beside the small one's: at most 1.5 times at p99; the others show what carrying the
outputs costs.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._latency import Samples, interleaved
from bench._server import running_server

WORKSPACE = "bench-views"
LARGE_BYTES = 1024 * 1024
SMALL_BYTES = 16
_BASE = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sizes:
    """How many nodes each execution has; how long to time."""

    nodes: int
    repetitions: int
    budget_seconds: float


FULL = Sizes(nodes=20, repetitions=200, budget_seconds=60)
QUICK = Sizes(nodes=3, repetitions=20, budget_seconds=5)


def _event(name: str, span_id: str, offset_ms: int, parent: Any, body: Any) -> dict[str, Any]:
    moment = _BASE + timedelta(milliseconds=offset_ms)
    return {
        "id": str(uuid.uuid4()),
        "name": name,
        "timestamp": moment.isoformat().replace("+00:00", "Z"),
        "api_version": "2024-10-25",
        "trace_id": str(uuid.UUID(int=1)),
        "span_id": span_id,
        "parent": parent,
        "links": None,
        "body": body,
    }


def execution(nodes: int, output_bytes: int) -> tuple[str, list[dict[str, Any]]]:
    """An execution of `nodes` nodes in a row, each with an output of `output_bytes`."""
    root = str(uuid.uuid4())
    workflow = {"id": str(uuid.uuid4()), "name": "Summarize", "module": ["bench"]}
    external = {"type": "EXTERNAL", "span_id": str(uuid.uuid4()), "parent": None}
    context = {
        "type": "WORKFLOW",
        "span_id": root,
        "workflow_definition": workflow,
        "parent": external,
    }
    events = [
        _event(
            "workflow.execution.initiated",
            root,
            0,
            external,
            {"workflow_definition": workflow, "inputs": {"document": "d"}},
        )
    ]
    for index in range(nodes):
        span = str(uuid.uuid4())
        node = {"id": str(uuid.uuid4()), "name": f"Step{index}", "module": ["bench"]}
        events.append(
            _event(
                "node.execution.initiated",
                span,
                10 * index + 1,
                context,
                {"node_definition": node, "inputs": {}},
            )
        )
        text = "x" * output_bytes
        events.append(
            _event(
                "node.execution.fulfilled",
                span,
                10 * index + 5,
                context,
                {"node_definition": node, "outputs": {"text": text}},
            )
        )
    events.append(
        _event(
            "workflow.execution.fulfilled",
            root,
            10 * nodes + 10,
            external,
            {"workflow_definition": workflow, "outputs": {"summary": "done"}},
        )
    )
    return root, events


def _post(client: httpx.Client, events: list[dict[str, Any]]) -> str:
    """Post in batches under the body limit; the last answer's position token."""
    token = ""
    batch: list[dict[str, Any]] = []
    size = 0
    for event in [*events, None]:
        encoded = len(orjson.dumps(event)) if event is not None else 0
        if event is None or (batch and size + encoded > 8 * 1024 * 1024):
            response = client.post("/monitoring/v1/events", content=orjson.dumps(batch))
            response.raise_for_status()
            token = response.json()["log_position"]
            batch, size = [], 0
        if event is not None:
            batch.append(event)
            size += encoded
    return token


def measure(sizes: Sizes) -> dict[str, Any]:
    """Load both executions, then time every read of each, interleaved."""
    with tempfile.TemporaryDirectory(prefix="runledger-bench-views-") as folder:
        root = Path(folder)
        env = {"RUNLEDGER_DATA_DIR": str(root / "data"), "RUNLEDGER_LOG_LEVEL": "WARNING"}
        with (
            running_server(env, WORKSPACE, root / "server.log") as server,
            httpx.Client(
                base_url=server.base_url, headers={"X-API-KEY": server.api_key}, timeout=120
            ) as client,
        ):
            executions = {
                "large": execution(sizes.nodes, LARGE_BYTES),
                "small": execution(sizes.nodes, SMALL_BYTES),
            }
            token = ""
            for _, events in executions.values():
                token = _post(client, events)
            numbers = {}
            for name, (execution_id, _) in executions.items():
                detail = client.get(
                    f"/v1/workflow-executions/{execution_id}/detail",
                    params={"min_log_position": token, "span_limit": 1},
                )
                detail.raise_for_status()
                numbers[name] = detail.json()["number"]
            calls = {}
            for name, (execution_id, _) in executions.items():
                calls[f"detail/{name}"] = _reader(
                    client, "GET", f"/v1/workflow-executions/{execution_id}/detail?span_limit=100"
                )
                calls[f"detail_links/{name}"] = _reader(
                    client,
                    "GET",
                    f"/v1/workflow-executions/{execution_id}/detail?span_limit=100&payloads=links",
                )
                calls[f"velt/{name}"] = _reader(
                    client,
                    "POST",
                    "/v2/workflow/executions/get",
                    {"data": {"executionId": execution_id}},
                    {"x-velt-api-key": server.api_key},
                )
                calls[f"velt_links/{name}"] = _reader(
                    client,
                    "POST",
                    "/v2/workflow/executions/get",
                    {"data": {"executionId": execution_id, "outputs": "links"}},
                    {"x-velt-api-key": server.api_key},
                )
                calls[f"datalab/{name}"] = _reader(
                    client, "GET", f"/api/v1/workflows/executions/{numbers[name]}"
                )
            samples = interleaved(calls, sizes.repetitions, sizes.budget_seconds)
    return {
        "nodes": sizes.nodes,
        "large_output_bytes": LARGE_BYTES,
        "small_output_bytes": SMALL_BYTES,
        "reads": {name: _summary(found) for name, found in samples.items()},
    }


def _reader(
    client: httpx.Client,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> Any:
    content = orjson.dumps(body) if body is not None else None

    def call(_: int) -> None:
        response = client.request(method, path, content=content, headers=headers)
        response.raise_for_status()
        response.read()

    return call


def _summary(samples: Samples) -> dict[str, Any]:
    return {"p50_seconds": samples.p50, "p99_seconds": samples.p99, "calls": samples.count}


def views_table(results: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """Each read of the large execution beside the small one's."""
    titles = {
        "detail": "Vellum's detail page (span_limit 100, outputs inline)",
        "detail_links": "Vellum's detail page with `payloads=links` (outputs as links)",
        "velt": "Velt's read (every step, outputs inline)",
        "velt_links": "Velt's read with `outputs: links` (every step, outputs as links)",
        "datalab": "Datalab's read (every step, outputs as links)",
    }
    rows = []
    reads = results["reads"]
    for key, title in titles.items():
        large, small = reads[f"{key}/large"], reads[f"{key}/small"]
        rows.append(
            [
                title,
                f"{small['p50_seconds'] * 1000:,.1f} ms",
                f"{small['p99_seconds'] * 1000:,.1f} ms",
                f"{large['p50_seconds'] * 1000:,.1f} ms",
                f"{large['p99_seconds'] * 1000:,.1f} ms",
                f"{large['p99_seconds'] / small['p99_seconds']:,.2f}",
                str(min(large["calls"], small["calls"])),
            ]
        )
    title = (
        f"**Reads of a {results['nodes']}-node execution, outputs of "
        f"{results['large_output_bytes']:,} bytes per node beside {results['small_output_bytes']}**"
    )
    header = ["read", "small p50", "small p99", "large p50", "large p99", "p99 ratio", "calls"]
    return title, header, rows
