"""`GET /metrics`: the server's figures in Prometheus's format, and a real Prometheus scraping
them (Debian's `prometheus`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.runtime_support import Release, deployed_server, number, wait_for_status
from tests.events import execution
from tests.servers import RunningServer, free_port, position_token, vellum_client

METRICS_TOKEN = "tests-metrics-token"
Figures = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def server(module_log_env: dict[str, str]) -> Iterator[RunningServer]:
    env = {**module_log_env, "RUNLEDGER_METRICS_TOKEN": METRICS_TOKEN}
    slow = Release("slow", "tests.runtime.entrypoints:slow")
    with deployed_server(env, [slow], RUNLEDGER_WORKERS="2") as running:
        yield running


def scrape(server: RunningServer, token: str = METRICS_TOKEN) -> Figures:
    response = httpx.get(
        f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    figures: Figures = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            figures[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return figures


def figure(figures: Figures, name: str, **labels: str) -> float:
    """A sample's value; 0 for a labelled series not seen yet (Prometheus's own reading)."""
    return figures.get((name, frozenset(labels.items())), 0.0)


def post(server: RunningServer, path: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        server.base_url + path,
        content=body,
        headers={**server.headers(), **headers},
        timeout=30,
    )


def otlp_json_with_a_bad_span() -> bytes:
    """One good root span and one with an all-zero span id, which OTLP forbids."""
    trace_id = uuid.uuid4().hex
    now = time.time_ns()

    def span(span_id: str, name: str) -> dict[str, Any]:
        return {
            "traceId": trace_id,
            "spanId": span_id,
            "name": name,
            "startTimeUnixNano": str(now),
            "endTimeUnixNano": str(now + 1_000_000),
            "status": {"code": 1},
        }

    spans = [span(uuid.uuid4().hex[:16], "root"), span("0" * 16, "broken")]
    request = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    return orjson.dumps(request)


def test_metrics_need_the_metrics_or_admin_token(server: RunningServer) -> None:
    url = f"{server.base_url}/metrics"
    for headers in (
        {},
        {"X-API-KEY": server.api_key},
        {"Authorization": f"Bearer {server.api_key}"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
    ):
        refused = httpx.get(url, headers=headers, timeout=10)
        assert refused.status_code == 401, headers
        assert "RUNLEDGER_METRICS_TOKEN" in refused.json()["detail"]
    assert scrape(server)  # the metrics token
    assert scrape(server, server.env["RUNLEDGER_ADMIN_TOKEN"])
    admin = httpx.get(url, headers={"X-Admin-Token": server.env["RUNLEDGER_ADMIN_TOKEN"]})
    assert admin.status_code == 200


def test_ingest_is_counted_by_source_and_result(server: RunningServer) -> None:
    before = scrape(server)
    events = execution(node_count=2)
    assert post(server, "/monitoring/v1/events", orjson.dumps(events)).status_code == 200
    # The same batch again: every event a duplicate.
    assert post(server, "/monitoring/v1/events", orjson.dumps(events)).status_code == 200
    broken = [{**events[0], "timestamp": "not a time"}, events[1], events[2]]
    assert post(server, "/monitoring/v1/events", orjson.dumps(broken)).status_code == 400
    assert post(server, "/monitoring/v1/events", b"[", **{"X-API-KEY": "nope"}).status_code == 401
    assert post(server, "/monitoring/v1/events", b"{").status_code == 400
    otlp = post(server, "/v1/traces", otlp_json_with_a_bad_span())
    assert otlp.status_code == 200
    assert otlp.json()["partialSuccess"]["rejectedSpans"] == "1"
    after = scrape(server)

    def grew(name: str, **labels: str) -> float:
        return figure(after, name, **labels) - figure(before, name, **labels)

    batches, ingested = "runledger_ingest_batches_total", "runledger_ingest_events_total"
    assert grew(batches, source="events", result="accepted") == 2
    assert grew(batches, source="events", result="invalid") == 2
    assert grew(batches, source="events", result="unauthorized") == 1
    assert grew(batches, source="otlp", result="accepted") == 1
    assert grew(ingested, source="events", result="accepted") == len(events)
    assert grew(ingested, source="events", result="duplicate") == len(events)
    assert grew(ingested, source="events", result="invalid") == 3
    # The good span is a root: its node span's and its workflow span's two events each.
    assert grew(ingested, source="otlp", result="accepted") == 4
    assert grew("runledger_otlp_refused_spans_total") == 1
    requests = "runledger_http_request_duration_seconds_count"
    route = "/monitoring/v1/events"
    assert grew(requests, method="POST", route=route, status="200") == 2
    assert grew(requests, method="POST", route=route, status="400") == 2
    assert grew(requests, method="POST", route="/v1/traces", status="200") == 1


def test_requests_are_labelled_by_route_template_never_by_path(server: RunningServer) -> None:
    before = scrape(server)
    for _ in range(3):
        missing = httpx.get(
            f"{server.base_url}/v1/workflows/executions/{uuid.uuid4()}/status",
            headers=server.headers(),
        )
        assert missing.status_code == 404
    assert httpx.get(f"{server.base_url}/no/such/{uuid.uuid4()}").status_code == 404
    after = scrape(server)
    name = "runledger_http_request_duration_seconds_count"
    status_route = "/v1/workflows/executions/{execution_id}/status"
    labels = {"method": "GET", "status": "404"}
    assert (
        figure(after, name, route=status_route, **labels)
        - figure(before, name, route=status_route, **labels)
        == 3
    )
    assert (
        figure(after, name, route="unmatched", **labels)
        - figure(before, name, route="unmatched", **labels)
        == 1
    )
    assert not any("no/such" in value for _, labels_ in after for _, value in labels_)


def test_projection_progress_is_told(server: RunningServer) -> None:
    post(server, "/monitoring/v1/events", orjson.dumps(execution(node_count=3)))
    token = position_token(server.env)
    visible = httpx.get(
        f"{server.base_url}/v1/workflow-executions",
        params={"min_log_position": token, "limit": 1},
        headers=server.headers(),
    )
    assert visible.status_code == 200
    figures = scrape(server)
    head = figure(figures, "runledger_log_position")
    assert head > 0
    assert figure(figures, "runledger_projection_visible_position") >= head
    assert figure(figures, "runledger_projection_backlog_records") == 0
    assert figure(figures, "runledger_projection_writer") == 1
    assert figure(figures, "runledger_projection_failing") == 0
    assert figure(figures, "runledger_projected_events_total") >= 8
    batches = figure(figures, "runledger_projection_batch_seconds_count")
    assert batches >= 1
    assert figure(figures, "runledger_projection_lag_seconds_count") == batches


def test_runs_and_workers_are_told_while_they_run(server: RunningServer) -> None:
    before = scrape(server)
    assert figure(before, "runledger_workers") == 2
    with vellum_client(server) as client:
        accepted = client.execute_workflow_async(
            workflow_deployment_name="slow", inputs=[number("seconds", 1.5)]
        )
        wait_for_status(client, accepted.execution_id, "INITIATED")
        during = scrape(server)
        assert figure(during, "runledger_runs", state="running") == 1
        assert figure(during, "runledger_workers_busy") == 1
        wait_for_status(client, accepted.execution_id, "FULFILLED")
    finished = "runledger_runs_finished_total"
    deadline = time.monotonic() + 10
    while figure(scrape(server), "runledger_runs", state="running") and time.monotonic() < deadline:
        time.sleep(0.05)
    after = scrape(server)
    assert figure(after, "runledger_runs", state="running") == 0
    assert (
        figure(after, finished, status="FULFILLED") - figure(before, finished, status="FULFILLED")
        == 1
    )


# --- a real Prometheus -------------------------------------------------------------------------


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("RUNLEDGER_REQUIRE_PROMETHEUS") == "1":
            pytest.fail("prometheus is not installed (make test installs Debian's package)")
        pytest.skip("Debian's prometheus is not installed (make test installs it)")
    return found


@contextmanager
def running_prometheus(target: str, token_file: Path, folder: Path) -> Iterator[str]:
    """Prometheus scraping `target`'s /metrics every second, as the README configures it; its
    base URL."""
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {
                "job_name": "runledger",
                "metrics_path": "/metrics",
                "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
                "static_configs": [{"targets": [target]}],
            }
        ],
    }
    config_file = folder / "prometheus.yml"
    config_file.write_bytes(orjson.dumps(config))  # JSON is YAML
    address = f"127.0.0.1:{free_port()}"
    command = [
        prometheus_binary(),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={folder / 'data'}",
        f"--web.listen-address={address}",
        "--log.level=warn",
    ]
    with (folder / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            yield f"http://{address}"
        finally:
            process.terminate()
            process.wait(30)


def query(prometheus: str, expression: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def wait_for_value(prometheus: str, expression: str, wanted: float, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last: list[dict[str, Any]] | str = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(
                f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10
            )
        except httpx.HTTPError as error:  # not listening yet
            last = str(error)
        else:
            # 503 while its storage starts.
            last = answer.json()["data"]["result"] if answer.status_code == 200 else answer.text
        if isinstance(last, list) and len(last) == 1 and float(last[0]["value"][1]) == wanted:
            return
        time.sleep(0.25)
    pytest.fail(f"{expression} did not reach {wanted} in {timeout}s; last answer: {last}")


def test_a_real_prometheus_scrapes_the_figures(server: RunningServer, tmp_path: Path) -> None:
    token_file = tmp_path / "runledger-metrics-token"
    token_file.write_text(METRICS_TOKEN)
    accepted = "runledger_ingest_events_total"
    events = execution(node_count=4)
    before = figure(scrape(server), accepted, source="events", result="accepted")
    assert post(server, "/monitoring/v1/events", orjson.dumps(events)).status_code == 200
    target = server.base_url.removeprefix("http://")
    with running_prometheus(target, token_file, tmp_path) as prometheus:
        wait_for_value(prometheus, 'up{job="runledger"}', 1)
        wait_for_value(
            prometheus,
            f'{accepted}{{job="runledger",source="events",result="accepted"}}',
            before + len(events),
        )
        wait_for_value(prometheus, "runledger_projection_backlog_records", 0)
        latency = query(
            prometheus,
            # Its own scrapes' latency, from the buckets as scraped.
            "histogram_quantile(0.99, sum by (le) ("
            'runledger_http_request_duration_seconds_bucket{route="/metrics"}))',
        )
        assert len(latency) == 1
        assert 0 < float(latency[0]["value"][1]) < 10
