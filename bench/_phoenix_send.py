"""Send workflow-shaped traces over OTLP/HTTP (protobuf), as an SDK user would.

Run with the Python of Phoenix's venv, which holds `opentelemetry-sdk` and
`opentelemetry-exporter-otlp-proto-http` (so do the project's dev extras: `bench.otlp` uses
that Python when Phoenix is not installed):

    bench/.phoenix-venv/bin/python bench/_phoenix_send.py SPEC.json

SPEC.json: `{"endpoint": ".../v1/traces", "project": NAME, "traces": [TRACE...],
"copies": N, "headers": {NAME: VALUE} (optional), "seed": N (optional)}`; a TRACE is
`{"spans": [SPAN...]}`, parents before children, and a SPAN is `{"name", "parent" (index in
the trace, or null), "start_ns", "end_ns", "attributes", "events": [{"name", "time_ns",
"attributes"}]}`. Each trace is sent `copies` times, each copy with fresh trace and span ids:
the SDK's random ones, or, with `seed`, drawn from a generator seeded with it, so that two
sends of one spec carry the same ids (a capture run and a timed run then hold the same
records). Spans are exported by the SDK's `BatchSpanProcessor` (batches of 512, a queue that
holds every span, so none is dropped); `headers` go with every export (an API key).

Prints one JSON line: the spans sent, how many of them the endpoint acknowledged (exports
answered with success; the SDK only logs a failed one), the trace ids (hex),
`started_at`/`flushed_at` (`time.time()`, when the first span began and when the exporter had
everything answered), and `last_position`: the `X-Runledger-Log-Position` header of the last
answer, Runledger's read-your-writes token (null from any other endpoint). The SDK exports
under one lock, one request at a time, so the last answer is the last append.
"""

from __future__ import annotations

import importlib
import json
import random
import sys
import time
from typing import Any

EXPORT_BATCH = 512


class _SeededIds:
    """The SDK's `IdGenerator` interface (duck-typed: the SDK is imported lazily), from a
    seeded generator; never the invalid all-zero id."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def _nonzero(self, bits: int) -> int:
        while True:
            value = self._random.getrandbits(bits)
            if value:
                return value

    def generate_span_id(self) -> int:
        return self._nonzero(64)

    def generate_trace_id(self) -> int:
        return self._nonzero(128)

    def is_trace_id_random(self) -> bool:
        # As the SDK's own generator answers, so the spans carry the same trace flags.
        return True


class _Counted:
    """Wraps the exporter to count the spans whose export was answered with success."""

    def __init__(self, exporter: Any, success: Any) -> None:
        self._exporter = exporter
        self._success = success
        self.acknowledged = 0

    def export(self, spans: Any) -> Any:
        result = self._exporter.export(spans)
        if result == self._success:
            self.acknowledged += len(spans)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._exporter, name)


POSITION_HEADER = "X-Runledger-Log-Position"


def _session(positions: list[str]) -> Any:
    """A `requests` session (the exporter's own transport) that keeps each answer's token."""
    requests = importlib.import_module("requests")
    session = requests.Session()

    def keep(response: Any, *args: Any, **kwargs: Any) -> None:
        token = response.headers.get(POSITION_HEADER)
        if response.ok and token:
            positions.append(token)

    session.hooks["response"].append(keep)
    return session


def _provider(spec: dict[str, Any], span_count: int, positions: list[str]) -> tuple[Any, _Counted]:
    resources = importlib.import_module("opentelemetry.sdk.resources")
    trace_sdk = importlib.import_module("opentelemetry.sdk.trace")
    export = importlib.import_module("opentelemetry.sdk.trace.export")
    otlp = importlib.import_module("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    resource = resources.Resource.create(
        {"service.name": "runledger-bench", "openinference.project.name": spec["project"]}
    )
    seed = spec.get("seed")
    ids = {} if seed is None else {"id_generator": _SeededIds(seed)}
    provider = trace_sdk.TracerProvider(resource=resource, **ids)
    exporter = _Counted(
        otlp.OTLPSpanExporter(
            endpoint=spec["endpoint"],
            headers=spec.get("headers"),
            timeout=120,
            session=_session(positions),
        ),
        export.SpanExportResult.SUCCESS,
    )
    processor = export.BatchSpanProcessor(
        exporter,
        max_queue_size=span_count + EXPORT_BATCH,
        max_export_batch_size=EXPORT_BATCH,
        schedule_delay_millis=50,
    )
    provider.add_span_processor(processor)
    return provider, exporter


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
    positions: list[str] = []
    provider, exporter = _provider(spec, span_count, positions)
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
        "acknowledged_spans": exporter.acknowledged,
        "trace_ids": trace_ids,
        "started_at": started_at,
        "flushed_at": flushed_at,
        "last_position": positions[-1] if positions else None,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
