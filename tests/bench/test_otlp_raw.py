"""The OTLP benchmark's raw path appends what `POST /v1/traces` would: the route's records of
each exported span, in the route's batches."""

from __future__ import annotations

import uuid

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bench._otlp_raw import log_batches
from domain.otel_mapping import span_events
from domain.otlp import read_protobuf

WORKSPACE = uuid.uuid4()


def exported_trace(children: int) -> list[ReadableSpan]:
    """A root span with `children` child spans, one of them with a span event."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.bench")
    with tracer.start_as_current_span("root", attributes={"input.value": "q"}):
        for n in range(children):
            with tracer.start_as_current_span(f"child {n}") as child:
                child.add_event("snapshot", {"body": "{}"})
    return list(exporter.get_finished_spans())


def test_raw_batches_hold_the_route_records_of_every_span_never_split() -> None:
    body = bytes(encode_spans(exported_trace(children=4)).SerializeToString())
    per_span = [[e["id"] for e in span_events(s)] for s in read_protobuf(body).spans]

    batches, span_count = log_batches(WORKSPACE, [body], max_events=5)

    assert span_count == 5
    ids = [[str(envelope.event_id) for envelope in batch] for batch in batches]
    assert [i for batch in ids for i in batch] == [i for span in per_span for i in span]
    # A span's events share a batch: each batch is a run of whole spans, at most 5 events
    # unless one span alone has more (the root: 2 workflow and 2 node events).
    bounds = {sum(len(span) for span in per_span[:n]) for n in range(len(per_span) + 1)}
    starts = [sum(len(batch) for batch in ids[:n]) for n in range(len(ids) + 1)]
    assert set(starts) <= bounds
    assert len(batches) > 1
