"""OTLP/HTTP trace requests (`ExportTraceServiceRequest`), read into `OtelSpan`s.

Both encodings OTLP/HTTP allows: binary protobuf, parsed by the `opentelemetry-proto` package,
and OTLP's JSON mapping, which is protobuf's JSON with two differences (the specification's
"JSON Protobuf Encoding"): trace and span ids are hex, not base64, and enums may be names or
numbers. The JSON is turned into the same message (its ids rewritten as protobuf's JSON
expects them), so one reading serves both.

A request that is not a trace request at all is `InvalidBody`; a span that cannot be stored
(bad ids or times) is left out and counted, as OTLP's `partial_success` reports it, while the
request's other spans are stored.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from domain.envelope import Json
from domain.errors import InvalidBody
from domain.otel_mapping import OtelSpan, SpanEvent
from domain.otlp_bytes import Place, json_spans, protobuf_spans

_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")
_KINDS = {number: Span.SpanKind.Name(number) for number in Span.SpanKind.values()}
_STATUS_CODES = {number: Status.StatusCode.Name(number) for number in Status.StatusCode.values()}
_REPORTED_REASONS = 5
"""How many rejected spans `partial_success.error_message` names (it counts them all)."""


@dataclass
class TraceRequest:
    """The spans of one request that can be stored, and those that cannot."""

    spans: list[OtelSpan] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    """Where each span sat in the request (`resource_spans[0].scope_spans[0].spans[3]`)."""
    rejected: list[str] = field(default_factory=list)
    """Why each span left out was, naming it by its place in the request."""

    def error_message(self) -> str:
        """`partial_success.error_message`: the first reasons, and how many there were."""
        if not self.rejected:
            return ""
        shown = "; ".join(self.rejected[:_REPORTED_REASONS])
        more = len(self.rejected) - _REPORTED_REASONS
        return f"{shown}; and {more} more" if more > 0 else shown


def read_protobuf(body: bytes) -> TraceRequest:
    """A binary protobuf `ExportTraceServiceRequest`."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as error:
        raise InvalidBody(f"the body is not an OTLP ExportTraceServiceRequest: {error}") from None
    received = protobuf_spans(body)
    return _spans(request, {place: ("protobuf", data) for place, data in received.items()})


def read_json(body: bytes) -> TraceRequest:
    """An OTLP/JSON `ExportTraceServiceRequest`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidBody(f"the body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidBody("the body must be a JSON object (an ExportTraceServiceRequest)")
    bad_ids: set[tuple[int, int, int]] = set()
    _ids_as_base64(document, bad_ids)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise InvalidBody(f"the body is not an OTLP ExportTraceServiceRequest: {error}") from None
    received = json_spans(body)
    return _spans(request, {place: ("json", data) for place, data in received.items()}, bad_ids)


def response_bytes(found: TraceRequest, as_json: bool) -> bytes:
    """The `ExportTraceServiceResponse` for the request, in its encoding."""
    response = ExportTraceServiceResponse()
    if found.rejected:
        response.partial_success.rejected_spans = len(found.rejected)
        response.partial_success.error_message = found.error_message()
    if as_json:
        return orjson.dumps(json_format.MessageToDict(response))
    return bytes(response.SerializeToString())


def _ids_as_base64(document: dict[str, Any], bad_ids: set[tuple[int, int, int]]) -> None:
    """Rewrite the hex ids of OTLP/JSON as protobuf's JSON reads bytes (base64), in place; a
    span whose id is not hex is noted in `bad_ids` and its ids emptied (then refused)."""
    for r, resource_spans in enumerate(_list(document, "resourceSpans", "resource_spans")):
        for s, scope_spans in enumerate(_list(resource_spans, "scopeSpans", "scope_spans")):
            for n, span in enumerate(_list(scope_spans, "spans")):
                if not isinstance(span, dict):
                    continue
                if not _hex_ids(span):
                    bad_ids.add((r, s, n))
                for link in _list(span, "links"):
                    if isinstance(link, dict) and not _hex_ids(link):
                        bad_ids.add((r, s, n))


def _list(container: Any, *names: str) -> list[Any]:
    if not isinstance(container, dict):
        return []
    for name in names:
        value = container.get(name)
        if isinstance(value, list):
            return value
    return []


def _hex_ids(item: dict[str, Any]) -> bool:
    """Rewrite the item's id fields from hex to base64; False if one was not hex."""
    good = True
    for name in _ID_FIELDS:
        value = item.get(name)
        if not isinstance(value, str):
            continue
        try:
            item[name] = base64.b64encode(bytes.fromhex(value)).decode()
        except ValueError:
            item[name] = ""
            good = False
    return good


def _spans(
    request: ExportTraceServiceRequest,
    received: dict[Place, tuple[str, bytes]],
    bad_ids: frozenset[Place] | set[Place] = frozenset(),
) -> TraceRequest:
    """The request's spans, each with its bytes as received (domain/otlp_bytes.py)."""
    found = TraceRequest()
    for r, resource_spans in enumerate(request.resource_spans):
        resource = _attributes(resource_spans.resource.attributes)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = scope_spans.scope
            scope_attributes = _attributes(scope.attributes)
            for n, span in enumerate(scope_spans.spans):
                place = f"resource_spans[{r}].scope_spans[{s}].spans[{n}]"
                if (r, s, n) in bad_ids:
                    found.rejected.append(f"{place}: an id is not hex")
                    continue
                read = _span(
                    span,
                    resource,
                    scope.name,
                    scope.version,
                    scope_attributes,
                    received=received.get((r, s, n)),
                )
                reason = read.check()
                if reason is not None:
                    found.rejected.append(f"{place}: {reason}")
                else:
                    found.spans.append(read)
                    found.places.append(place)
    return found


def _span(
    span: Span,
    resource: dict[str, Json],
    scope_name: str,
    scope_version: str,
    scope_attributes: dict[str, Json],
    *,
    received: tuple[str, bytes] | None,
) -> OtelSpan:
    return OtelSpan(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name,
        start_ns=span.start_time_unix_nano,
        end_ns=span.end_time_unix_nano,
        kind=_KINDS[span.kind] if span.kind in _KINDS else str(span.kind),
        trace_state=span.trace_state,
        attributes=_attributes(span.attributes),
        events=[
            SpanEvent(event.name, event.time_unix_nano, _attributes(event.attributes))
            for event in span.events
        ],
        links=[
            {
                "trace_id": link.trace_id.hex(),
                "span_id": link.span_id.hex(),
                "trace_state": link.trace_state,
                "attributes": _attributes(link.attributes),
            }
            for link in span.links
        ],
        status_code=_STATUS_CODES.get(span.status.code, "STATUS_CODE_UNSET"),
        status_message=span.status.message,
        resource=resource,
        scope_name=scope_name,
        scope_version=scope_version,
        scope_attributes=scope_attributes,
        received=received,
    )


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Json]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> Json:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None
