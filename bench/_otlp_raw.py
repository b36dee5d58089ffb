"""The raw path of the OTLP benchmark: the log records of captured exports, appended straight.

Each captured `ExportTraceServiceRequest` is read and mapped by the route's own code
(`domain.otlp.read_protobuf`, then `api.routes.traces._store`, which makes each span's records
with `domain.otel_mapping.span_records` and hands them to `domain.ingest.append_batch`) into a
log that only keeps the envelopes it is given. So the batches appended here are the records, and
the appends, that the server makes of those requests, and they follow the route if its
mapping or its splitting of a request changes. Only `Ledger.append` of them is timed
(`bench._runners.time_append`, as for the events' raw path).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from api.routes.traces import _store as store_spans
from bench._runners import EnvelopeRecorder
from domain.envelope import Envelope
from domain.otlp import read_protobuf


def log_batches(
    workspace_id: UUID, bodies: Sequence[bytes], max_events: int
) -> tuple[list[list[Envelope]], int]:
    """(the envelope batches the route would append for the bodies, in order; their spans)."""
    recorder = EnvelopeRecorder()
    span_count = 0
    for body in bodies:
        found = read_protobuf(body)
        if found.rejected:
            raise ValueError(f"a captured export has spans the route refuses: {found.rejected}")
        span_count += len(found.spans)
        store_spans(recorder, workspace_id, found, max_events)
    return recorder.batches, span_count
