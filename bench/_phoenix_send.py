"""Send workflow-shaped traces to Phoenix over OTLP/HTTP (protobuf), as an SDK user would.

Run with the Python of Phoenix's venv, which holds `opentelemetry-sdk` and
`opentelemetry-exporter-otlp-proto-http` (the project itself does not depend on them):

    bench/.phoenix-venv/bin/python bench/_phoenix_send.py SPEC.json

SPEC.json: `{"endpoint": ".../v1/traces", "project": NAME, "traces": [TRACE...],
"copies": N}`; a TRACE is `{"spans": [SPAN...]}`, parents before children, and a SPAN is
`{"name", "parent" (index in the trace, or null), "start_ns", "end_ns", "attributes",
"events": [{"name", "time_ns", "attributes"}]}`. Each trace is sent `copies` times, each copy
with fresh trace and span ids (the SDK's). Spans are exported by the SDK's
`BatchSpanProcessor` (batches of 512, a queue that holds every span, so none is dropped).

Prints one JSON line: the spans sent, the trace ids (hex), and `started_at`/`flushed_at`
(`time.time()`, when the first span began and when the exporter had everything answered).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from typing import Any

EXPORT_BATCH = 512


def _provider(endpoint: str, project: str, span_count: int) -> Any:
    resources = importlib.import_module("opentelemetry.sdk.resources")
    trace_sdk = importlib.import_module("opentelemetry.sdk.trace")
    export = importlib.import_module("opentelemetry.sdk.trace.export")
    otlp = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    resource = resources.Resource.create(
        {"service.name": "runledger-bench", "openinference.project.name": project}
    )
    provider = trace_sdk.TracerProvider(resource=resource)
    processor = export.BatchSpanProcessor(
        otlp.OTLPSpanExporter(endpoint=endpoint, timeout=120),
        max_queue_size=span_count + EXPORT_BATCH,
        max_export_batch_size=EXPORT_BATCH,
        schedule_delay_millis=50,
    )
    provider.add_span_processor(processor)
    return provider


def _send_trace(tracer: Any, spans: list[dict[str, Any]], shift_ns: int) -> str:
    trace_api = importlib.import_module("opentelemetry.trace")
    started: list[Any] = []
    for spec in spans:
        parent = spec["parent"]
        context = trace_api.set_span_in_context(started[parent]) if parent is not None else None
        span = tracer.start_span(
            spec["name"],
            context=context,
            start_time=spec["start_ns"] + shift_ns,
            attributes=spec["attributes"],
        )
        for event in spec["events"]:
            span.add_event(
                event["name"], attributes=event["attributes"], timestamp=event["time_ns"] + shift_ns
            )
        started.append(span)
    # Spans end (and are exported) in the order of their end times, a parent after the children
    # that end with it, as in a real run: the root last.
    order = sorted(range(len(spans)), key=lambda n: (spans[n]["end_ns"], -n))
    for n in order:
        started[n].end(end_time=spans[n]["end_ns"] + shift_ns)
    return f"{started[0].get_span_context().trace_id:032x}"


def main(path: str) -> None:
    """Send the spec's traces; print what was sent."""
    with open(path) as file:
        spec = json.load(file)
    traces: list[dict[str, Any]] = spec["traces"]
    copies: int = spec["copies"]
    span_count = copies * sum(len(trace["spans"]) for trace in traces)
    provider = _provider(spec["endpoint"], spec["project"], span_count)
    tracer = provider.get_tracer("runledger-bench")
    trace_ids = []
    started_at = time.time()
    for copy in range(copies):
        for trace in traces:
            trace_ids.append(_send_trace(tracer, trace["spans"], copy * 1_000_000))
    if not provider.force_flush(timeout_millis=600_000):
        raise SystemExit("the exporter did not flush every span")
    flushed_at = time.time()
    provider.shutdown()
    result = {
        "spans": span_count,
        "trace_ids": trace_ids,
        "started_at": started_at,
        "flushed_at": flushed_at,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
