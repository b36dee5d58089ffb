"""`POST /v1/traces`: OTLP/HTTP trace export, the way OpenTelemetry spans enter the log.

An exporter points here (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://host:8000/v1/traces`,
the key in `OTEL_EXPORTER_OTLP_HEADERS=x-api-key=...` or as `Authorization: Bearer ...`). Each
span becomes the Vellum events domain/otel_mapping.py says, written and checked there as
ingest checks received events, and appended through the same entry as
`POST /monitoring/v1/events` (domain/ingest.py: `append_batch`), so everything that holds for
events (the checks, duplicates, read-your-writes) holds for spans. Spans that cannot be stored
are counted in the answer's `partial_success` while the others are stored, as OTLP asks.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import API_KEY_HEADER, require_workspace, workspace_of_key
from api.body import read_limited_body
from api.errors import ApiError, PayloadTooLarge, Unauthorized
from domain.batch import first_copies
from domain.envelope import Envelope
from domain.errors import FieldError, InvalidBody
from domain.ingest import IngestResult, append_batch
from domain.keys import Workspace
from domain.log.port import EventLog
from domain.otel_mapping import span_records
from domain.otlp import TraceRequest, read_json, read_protobuf, response_bytes

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


async def export_traces(request: Request) -> Response:
    """Store the request's spans; answer `ExportTraceServiceResponse` in its encoding."""
    workspace = await _workspace(request)
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type not in (PROTOBUF, JSON):
        raise ApiError(
            415, f"Content-Type must be {PROTOBUF} or {JSON}, got {media_type or 'none'!r}"
        )
    settings = request.app.state.settings
    body = _decoded(
        await read_limited_body(request, settings.max_body_bytes),
        request.headers.get("content-encoding", ""),
        settings.max_body_bytes,
    )
    found = await run_in_threadpool(read_json if media_type == JSON else read_protobuf, body)
    result = await run_in_threadpool(
        _store,
        request.app.state.ledger,
        workspace.id,
        found,
        settings.max_batch_events,
    )
    figures = request.app.state.metrics
    if found.rejected:
        figures.refused_spans(len(found.rejected))
    headers = {}
    if result is not None:
        figures.events("otlp", result.accepted_count, result.duplicate_count)
        request.app.state.live.runner.wake()
        # Runledger's addition, as events answer it: the read-your-writes token.
        headers["X-Runledger-Log-Position"] = request.app.state.position_tokens.token(
            workspace.id, result.log_position
        )
    return Response(
        response_bytes(found, media_type == JSON), media_type=media_type, headers=headers
    )


async def _workspace(request: Request) -> Workspace:
    """The key's workspace: `X-API-KEY`, or `Authorization: Bearer <key>` (what
    `OTEL_EXPORTER_OTLP_HEADERS` sets either way)."""
    if request.headers.get(API_KEY_HEADER):
        return await require_workspace(request)
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("the X-API-KEY header (or Authorization: Bearer) is required")
    return await workspace_of_key(request, key.strip(), "bearer key")


def _decoded(body: bytes, encoding: str, limit: int) -> bytes:
    """The body without its `Content-Encoding`; 413 when it unpacks past the body limit."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ApiError(415, f"Content-Encoding must be gzip or none, got {encoding!r}")
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        unpacked = unpacker.decompress(body, limit + 1)
    except zlib.error as error:
        raise InvalidBody(f"the body is not gzip: {error}") from None
    if len(unpacked) > limit or unpacker.unconsumed_tail:
        raise PayloadTooLarge(limit)
    if not unpacker.eof:
        raise InvalidBody("the gzip body is cut short")
    return unpacked


def _store(
    log: EventLog, workspace_id: UUID, found: TraceRequest, max_events: int
) -> IngestResult | None:
    """Append the spans' records, a span's records never split between appends; None when
    there was nothing to store. A span whose records the log refuses (attributes nested too
    deep, say) is moved to `found.rejected` and the others stored. The counts are the
    appends' sums, the position the last's."""
    results: list[IngestResult] = []
    batch: list[Envelope] = []
    for span, place in zip(found.spans, found.places, strict=True):
        records = span_records(span)
        if isinstance(records, FieldError):
            found.rejected.append(f"{place}: {records.field} {records.reason}")
            continue
        if batch and len(batch) + len(records) > max_events:
            results.append(append_batch(log, workspace_id, first_copies(batch), datetime.now(UTC)))
            batch = []
        batch += records
    if batch:
        results.append(append_batch(log, workspace_id, first_copies(batch), datetime.now(UTC)))
    if not results:
        return None
    return IngestResult(
        received_count=sum(result.received_count for result in results),
        accepted_count=sum(result.accepted_count for result in results),
        duplicate_count=sum(result.duplicate_count for result in results),
        log_position=results[-1].log_position,
    )


routes = [Route("/v1/traces", export_traces, methods=["POST"])]
