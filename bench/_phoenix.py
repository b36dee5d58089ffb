"""The peer: Arize Phoenix, in a venv of its own, fed the same workflows as OTLP/HTTP traces.

`ensure_venv` installs `arize-phoenix` (pinned) and the OTLP/HTTP exporter into
`bench/.phoenix-venv` the first time, after checking that the package registry answers: when it
does not, the Phoenix part is skipped with the reason. `running_phoenix` starts `phoenix serve`
with SQLite in a temporary working dir, both its ports on 127.0.0.1 (`bench/_phoenix_serve.py`),
telemetry and external resources off. `send` runs `bench/_phoenix_send.py` in that venv:
the OpenTelemetry SDK and its OTLP/HTTP protobuf exporter, as an instrumented app would send.

The traces are the benchmark's own Vellum events turned into spans (`spans_of`): one span per
span id, named by its workflow or node definition, parent as the events' parent chain says,
start and end from its `initiated` and `fulfilled` events, the `initiated` body as
`input.value` and the `fulfilled` body as `output.value` (OpenInference's names, so Phoenix
shows them), and every other event (the snapshots) as a span event with its body.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._latency import ParseTally
from bench._server import free_port
from domain.envelope import Json

PHOENIX_VERSION = "20.26.1"
PACKAGES = (f"arize-phoenix=={PHOENIX_VERSION}", "opentelemetry-exporter-otlp-proto-http")
VENV = Path(__file__).parent / ".phoenix-venv"
_HERE = Path(__file__).parent
READY_SECONDS = 180.0
INSTALL_SECONDS = 900.0
REACH_SECONDS = 60.0
_WORKFLOW_SPAN_TYPES = ("WORKFLOW", "WORKFLOW_NODE")


def _python() -> Path:
    return VENV / "bin" / "python"


def installed_version() -> str | None:
    """The Phoenix version in the venv, if it holds Phoenix and the exporter."""
    if not _python().exists():
        return None
    check = (
        "import importlib.metadata as m, opentelemetry.exporter.otlp.proto.http;"
        "print(m.version('arize-phoenix'))"
    )
    done = subprocess.run(
        [str(_python()), "-c", check], capture_output=True, text=True, check=False, timeout=120
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_venv(log_path: Path) -> str | None:
    """Install Phoenix into its venv if needed; None when ready, else why it is skipped."""
    if installed_version() == PHOENIX_VERSION:
        return None
    with open(log_path, "ab") as log:
        if not _python().exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, stdout=log)
        pip = [str(_python()), "-m", "pip", "--disable-pip-version-check"]
        # A cheap look-up first: a registry that does not answer makes this a skip, not a hang.
        try:
            reach = subprocess.run(
                [*pip, "index", "versions", "arize-phoenix"],
                stdout=log,
                stderr=log,
                timeout=REACH_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"the package registry did not answer within {REACH_SECONDS:.0f} s"
        if reach.returncode != 0:
            return f"the package registry is unreachable (pip index failed; see {log_path})"
        try:
            done = subprocess.run(
                [*pip, "install", "--quiet", *PACKAGES],
                stdout=log,
                stderr=log,
                timeout=INSTALL_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return f"installing Phoenix took over {INSTALL_SECONDS:.0f} s (see {log_path})"
    if done.returncode != 0:
        return f"pip could not install {' '.join(PACKAGES)} (see {log_path})"
    if installed_version() != PHOENIX_VERSION:
        return f"the venv at {VENV} does not hold arize-phoenix {PHOENIX_VERSION}"
    return None


@dataclass(frozen=True)
class Phoenix:
    """A running Phoenix: its base URL and process id."""

    base_url: str
    pid: int


@contextmanager
def running_phoenix(log_path: Path) -> Iterator[Phoenix]:
    """`phoenix serve` on SQLite in a temporary working dir, on 127.0.0.1 only."""
    workdir = Path(tempfile.mkdtemp(prefix="runledger-bench-phoenix-"))
    port, grpc_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PHOENIX_", "OTEL_"))},
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(_python()), str(_HERE / "_phoenix_serve.py")], env=env, stdout=log, stderr=log
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Phoenix exited with {process.returncode}; see {log_path}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"Phoenix was not up after {READY_SECONDS} s; see {log_path}")
            time.sleep(0.2)
        yield Phoenix(base_url, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        for path in sorted(workdir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() or path.is_symlink() else path.rmdir()
        workdir.rmdir()


# --- the traces ----------------------------------------------------------------------------


def _nanoseconds(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _definition_name(body: Json) -> str:
    for key in ("workflow_definition", "node_definition"):
        definition = body.get(key)
        if isinstance(definition, dict) and isinstance(definition.get("name"), str):
            return str(definition["name"])
    return "span"


def spans_of(events: Sequence[Json]) -> list[dict[str, Any]]:
    """One execution's events as the spans of one trace, parents before children."""
    spans: dict[str, dict[str, Any]] = {}
    for event in events:
        span_id = event["span_id"]
        body = event.get("body") or {}
        at = _nanoseconds(event["timestamp"])
        span = spans.get(span_id)
        if span is None:
            parent = event.get("parent") or {}
            parent_id = (
                parent.get("span_id") if parent.get("type") in _WORKFLOW_SPAN_TYPES else None
            )
            span = spans[span_id] = {
                "name": _definition_name(body),
                "parent_id": parent_id,
                "start_ns": at,
                "end_ns": at,
                "attributes": {"openinference.span.kind": "CHAIN"},
                "events": [],
            }
        span["start_ns"] = min(span["start_ns"], at)
        span["end_ns"] = max(span["end_ns"], at)
        text = orjson.dumps(body).decode()
        if event["name"].endswith(".initiated"):
            span["attributes"] |= {"input.value": text, "input.mime_type": "application/json"}
        elif event["name"].endswith((".fulfilled", ".rejected")):
            span["attributes"] |= {"output.value": text, "output.mime_type": "application/json"}
        else:
            span["events"].append(
                {"name": event["name"], "time_ns": at, "attributes": {"body": text}}
            )
    index = {span_id: n for n, span_id in enumerate(spans)}
    ordered: list[dict[str, Any]] = []
    for span in spans.values():
        parent_id = span.pop("parent_id")
        parent = index.get(parent_id) if parent_id is not None else None
        if parent is not None and parent >= len(ordered):
            raise ValueError("a span came before its parent in the events")
        ordered.append({**span, "parent": parent})
    return ordered


# --- sending and reading -------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    """What one run of the sender did (`bench/_phoenix_send.py`)."""

    span_count: int
    acknowledged_count: int  # spans in exports answered with success
    trace_ids: list[str]  # hex, in the order sent
    started_at: float  # time.time() the first span began
    flushed_at: float  # every export answered
    last_position: str | None  # Runledger's read-your-writes token of the last export


def sender_python() -> Path | None:
    """Phoenix's venv Python, which holds the SDK and its OTLP/HTTP exporter, if it exists."""
    return _python() if _python().exists() else None


def export(
    python: Path | str,
    endpoint: str,
    traces: list[list[dict[str, Any]]],
    copies: int,
    timeout_seconds: float,
    *,
    project: str = "bench",
    headers: dict[str, str] | None = None,
    seed: int | None = None,
) -> Exported:
    """Run `bench/_phoenix_send.py` with `python`: the traces, `copies` times each, to
    `endpoint` through the SDK's exporter."""
    spec: dict[str, Any] = {
        "endpoint": endpoint,
        "project": project,
        "traces": [{"spans": spans} for spans in traces],
        "copies": copies,
    }
    if headers is not None:
        spec["headers"] = headers
    if seed is not None:
        spec["seed"] = seed
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(spec, file)
        spec_path = file.name
    try:
        done = subprocess.run(
            [str(python), str(_HERE / "_phoenix_send.py"), spec_path],
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            check=False,
        )
    finally:
        os.unlink(spec_path)
    if done.returncode != 0:
        raise RuntimeError(f"sending to {endpoint} failed: {done.stderr[-2000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return Exported(
        answer["spans"],
        answer["acknowledged_spans"],
        answer["trace_ids"],
        answer["started_at"],
        answer["flushed_at"],
        answer["last_position"],
    )


@dataclass(frozen=True)
class Sent:
    """What one send did: spans, their trace ids, when the first began and when all arrived."""

    span_count: int
    trace_ids: list[str]
    started_at: float  # time.time()
    flushed_at: float  # every export answered (Phoenix answers before it stores)
    queryable_at: float  # Phoenix counted every span


def send(
    phoenix: Phoenix,
    project: str,
    traces: list[list[dict[str, Any]]],
    copies: int,
    expected_total: int,
    timeout_seconds: float,
    meanwhile: Callable[[], None] | None = None,
    seed: int | None = None,
) -> Sent:
    """Send the traces (`copies` times each) and wait until Phoenix counts `expected_total`.

    `meanwhile` runs after Phoenix has answered every export and before the wait: Phoenix
    stores what it was sent while it runs, and the timeout counts from its end.
    """
    exported = export(
        _python(),
        f"{phoenix.base_url}/v1/traces",
        traces,
        copies,
        timeout_seconds,
        project=project,
        seed=seed,
    )
    if meanwhile is not None:
        meanwhile()
    queryable_at = wait_for_count(phoenix, project, expected_total, timeout_seconds)
    return Sent(
        exported.span_count,
        exported.trace_ids,
        exported.started_at,
        exported.flushed_at,
        queryable_at,
    )


_COUNT_QUERY = "{ projects { edges { node { name recordCount } } } }"


def span_count(http: httpx.Client, project: str) -> int:
    """How many spans Phoenix holds for the project (its GraphQL `recordCount`)."""
    response = http.post("/graphql", json={"query": _COUNT_QUERY})
    response.raise_for_status()
    for edge in response.json()["data"]["projects"]["edges"]:
        if edge["node"]["name"] == project:
            count: int = edge["node"]["recordCount"]
            return count
    return 0


def wait_for_count(phoenix: Phoenix, project: str, expected: int, timeout_seconds: float) -> float:
    """Poll until the project holds `expected` spans; the `time.time()` it first did."""
    deadline = time.monotonic() + timeout_seconds
    with httpx.Client(base_url=phoenix.base_url, timeout=60) as http:
        while True:
            found = span_count(http, project)
            if found >= expected:
                return time.time()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Phoenix held {found} of {expected} spans after {timeout_seconds:.0f} s"
                )
            time.sleep(0.1)


def spans_page(
    http: httpx.Client,
    project: str,
    trace_id: str,
    cursor: str | None,
    limit: int,
    tally: ParseTally | None = None,
) -> tuple[list[str], str | None]:
    """One page of a trace's spans in insertion order: (span global ids, next cursor)."""
    params: dict[str, str | int] = {"trace_id": trace_id, "limit": limit, "sort": "id"}
    params["order"] = "asc"
    if cursor is not None:
        params["cursor"] = cursor
    response = http.get(f"/v1/projects/{project}/spans", params=params)
    if response.status_code != 200:
        raise RuntimeError(f"Phoenix spans answered {response.status_code}: {response.text[:300]}")
    body = tally.loads(response.content) if tally is not None else orjson.loads(response.content)
    return [span["id"] for span in body["data"]], body["next_cursor"]


def walk(
    http: httpx.Client, project: str, trace_id: str, limit: int, tally: ParseTally
) -> tuple[int, list[str]]:
    """Every span of the trace, page after page: (pages, span global ids in order)."""
    pages, seen = 0, []
    cursor: str | None = None
    while True:
        ids, cursor = spans_page(http, project, trace_id, cursor, limit, tally)
        pages += 1
        seen.extend(ids)
        if cursor is None:
            return pages, seen
