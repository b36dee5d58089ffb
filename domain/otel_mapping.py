"""One mapping from OpenTelemetry spans to Vellum's event vocabulary.

An OpenTelemetry span is a record of something that started and ended; a Vellum execution is a
tree of spans told as events. Spans that reach Runledger over OTLP (`POST /v1/traces`) become
log records here, and the runtime's bridge (runtime/otel.py) reads a span's failure, usage and
definition with the same functions, so a span means the same whichever way it came.

How an OTLP span maps:

- **Execution.** A trace is an execution: its id is `uuid5(OTLP_TRACES, trace id in hex)`, so
  every span of a trace finds its execution from its own trace id, whatever order the spans
  arrive in (an exporter sends a trace's children before the root, which ends last). The span
  without a parent (the trace's root) gives the execution its workflow events: initiated at
  its start, fulfilled or rejected at its end, with its name, inputs, outputs and error.
- **Spans.** Every span, the root included, is a node span of the execution, id
  `uuid5(execution id, span id in hex)` (as the runtime's bridge names its spans): a child
  names its parent's id from the parent span id alone. A span without a parent hangs under the
  execution's workflow span; any other under its parent's node span.
- **Events.** `node.execution.initiated` at the start (inputs), a `node.execution.log` per span
  event, then `node.execution.fulfilled` or `.rejected` at the end (outputs, error, usage).
  Event ids derive from the span's id, so a span exported twice is a duplicate, not a second
  span.
- **Values.** Inputs and outputs from OpenInference (`input.value`, `output.value`, JSON when
  `*.mime_type` says so) or the GenAI conventions (`gen_ai.input.messages`,
  `gen_ai.output.messages`, the older `gen_ai.prompt` / `gen_ai.completion`); usage from
  `gen_ai.usage.*` or OpenInference's `llm.token_count.*`. Everything else a span carries
  (kind, attributes, resource, scope, links, status, its OpenTelemetry ids) is kept in the
  terminal event's `body.otel`, with the span's own bytes as the request carried them
  (`received`: a protobuf `Span` in base64, or a JSON span object's text), for audit.
- **Failure.** Status ERROR, or an `exception` event on a span whose status was left UNSET,
  rejects the span with code NODE_EXECUTION, the last exception's message and its stack trace.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from uuid import NAMESPACE_URL, UUID

import orjson

from domain._uuid5 import uuid5
from domain.envelope import Envelope, Json, written_envelope
from domain.errors import FieldError
from domain.vocabulary import WORKFLOW_CONTEXT_TYPE, EventName

API_VERSION = "2024-10-25"
ERROR_CODE = "NODE_EXECUTION"
OTLP_TRACES = uuid5(NAMESPACE_URL, "https://runledger.dev/otlp-trace")
"""The namespace of the execution ids of OTLP traces."""
NODE_DEFINITIONS = uuid5(NAMESPACE_URL, "https://runledger.dev/node-definition")
_YEAR_10000_NS = 253_402_300_800 * 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_INPUT_TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
)
_OUTPUT_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
_CACHE_READ_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
_CACHE_CREATION_TOKENS = (
    "gen_ai.usage.cache_creation.input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
_MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
_COST = ("gen_ai.usage.cost", "llm.cost.total")
_INPUT_MESSAGES = ("gen_ai.input.messages", "gen_ai.prompt")
_OUTPUT_MESSAGES = ("gen_ai.output.messages", "gen_ai.completion")


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """An event recorded on a span (`exception`, a log line)."""

    name: str
    time_ns: int
    attributes: dict[str, Json] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OtelSpan:
    """One finished OpenTelemetry span with everything the mapping reads."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    start_ns: int
    end_ns: int
    kind: str = "SPAN_KIND_INTERNAL"
    trace_state: str = ""
    attributes: dict[str, Json] = field(default_factory=dict)
    events: Sequence[SpanEvent] = ()
    links: Sequence[Json] = ()
    status_code: str = "STATUS_CODE_UNSET"
    status_message: str = ""
    resource: dict[str, Json] = field(default_factory=dict)
    scope_name: str = ""
    scope_version: str = ""
    scope_attributes: dict[str, Json] = field(default_factory=dict)
    received: tuple[str, bytes] | None = None
    """The span's own bytes as an OTLP request carried them: ("protobuf", its `Span`
    message) or ("json", its object's text) (domain/otlp_bytes.py)."""

    @property
    def execution_id(self) -> UUID:
        """The execution of the span's trace."""
        return _execution_of(self.trace_id)

    @property
    def node_id(self) -> UUID:
        """The Vellum id of the span itself."""
        return span_uuid(self.execution_id, self.span_id)

    def check(self) -> str | None:
        """Why the span cannot be stored (its ids or times), or None."""
        if len(self.trace_id) != 16 or not any(self.trace_id):
            return "trace_id must be 16 bytes, not all zero"
        if len(self.span_id) != 8 or not any(self.span_id):
            return "span_id must be 8 bytes, not all zero"
        if self.parent_span_id and len(self.parent_span_id) != 8:
            return "parent_span_id must be empty or 8 bytes"
        if self.start_ns <= 0:
            return "start_time_unix_nano is required"
        if self.end_ns < self.start_ns:
            return "end_time_unix_nano is before start_time_unix_nano"
        if self.end_ns >= _YEAR_10000_NS or any(e.time_ns >= _YEAR_10000_NS for e in self.events):
            return "a time is past the year 9999"
        return None


def span_uuid(execution_id: UUID, span_id: bytes) -> UUID:
    """The Vellum id of an OpenTelemetry span (8 bytes) of an execution: a child names its
    parent's from the parent's span id alone, and a span always maps to the same id."""
    return uuid5(execution_id, span_id.hex())


@lru_cache(maxsize=4096)
def _execution_of(trace_id: bytes) -> UUID:
    # A trace's spans come together (an export holds whole traces, mostly): derived once.
    return uuid5(OTLP_TRACES, trace_id.hex())


@lru_cache(maxsize=4096)
def _definition_id(key: str) -> str:
    # The same few services, scopes and span names over and over: derived once each.
    return str(uuid5(NODE_DEFINITIONS, key))


class _Mapped(NamedTuple):
    """One Vellum event of a span, with the envelope fields the mapping gave it (so they need
    not be read back out of the event: domain.envelope.written_envelope)."""

    value: dict[str, Json]
    name: EventName
    event_id: UUID
    timestamp: datetime
    span_id: UUID
    parent_span_id: UUID | None


def span_events(span: OtelSpan) -> list[dict[str, Json]]:
    """The Vellum events of a finished, checked span (see the module docstring)."""
    return [mapped.value for mapped in _mapped_events(span)]


def span_records(span: OtelSpan) -> list[Envelope] | FieldError:
    """The span's events as the log stores them: each its exact bytes (orjson's writing of the
    event `span_events` gives) and its envelope, checked as ingest checks a received event;
    else the first reason the log refuses the span's events (nested too deeply, say)."""
    execution_id = span.execution_id
    trace_id = UUID(bytes=span.trace_id)
    records: list[Envelope] = []
    for index, mapped in enumerate(_mapped_events(span)):
        record = written_envelope(
            mapped.value,
            index,
            name=mapped.name,
            event_id=mapped.event_id,
            timestamp=mapped.timestamp,
            api_version=API_VERSION,
            trace_id=trace_id,
            span_id=mapped.span_id,
            parent_span_id=mapped.parent_span_id,
            execution_id=execution_id,
        )
        if isinstance(record, list):
            return record[0]
        records.append(record)
    return records


def _mapped_events(span: OtelSpan) -> list[_Mapped]:
    execution_id = span.execution_id
    node_id = span_uuid(execution_id, span.span_id)
    execution_text, node_text = str(execution_id), str(node_id)
    service = span.resource.get("service.name")
    module = [str(service)] if service else []
    workflow_context: dict[str, Json] = {
        "type": WORKFLOW_CONTEXT_TYPE,
        "span_id": execution_text,
        "workflow_definition": {
            "id": _definition_id(f"otlp-service:{service or ''}"),
            "name": str(service or "otlp"),
            "module": module,
        },
        "parent": None,
    }
    if span.parent_span_id:
        parent_id = span_uuid(execution_id, span.parent_span_id)
        parent: dict[str, Json] = {
            "type": "WORKFLOW_NODE",
            "span_id": str(parent_id),
            "node_definition": {
                "id": _definition_id(f"otlp-span:{parent_id}"),
                "name": f"span {span.parent_span_id.hex()}",
                "module": module,
            },
            "parent": workflow_context,
        }
    else:
        parent_id = execution_id
        parent = workflow_context
    definition = definition_of(span.scope_name, span.name)
    inputs, outputs = span_values(span.attributes)
    error = span_error(span.status_code, span.status_message, span.events)
    end_body: dict[str, Json] = {"node_definition": definition, "otel": otel_record(span)}
    if error is not None:
        end_body["error"], end_body["stacktrace"] = error
    else:
        end_body["outputs"] = outputs
    usage = usage_result(span.attributes)
    if usage is not None:
        end_body["usage_result"] = usage
    trace_id = str(UUID(bytes=span.trace_id))
    started, ended = moment(span.start_ns), moment(span.end_ns)

    def event(
        name: EventName,
        key: str,
        at: datetime,
        body: Json,
        *,
        on: UUID = node_id,
        on_text: str = node_text,
        within: Json = parent,
        within_id: UUID | None = parent_id,
    ) -> _Mapped:
        event_id = uuid5(node_id, key)
        value = {
            "id": str(event_id),
            "name": name.value,
            "timestamp": _iso(at),
            "api_version": API_VERSION,
            "trace_id": trace_id,
            "span_id": on_text,
            "parent": within,
            "links": None,
            "body": body,
        }
        return _Mapped(value, name, event_id, at, on, within_id)

    node = [
        event(
            EventName.NODE_INITIATED,
            "initiated",
            started,
            {"node_definition": definition, "inputs": inputs},
        ),
        *(
            event(
                EventName.NODE_LOG,
                f"event:{index}",
                moment(recorded.time_ns) if recorded.time_ns else started,
                {
                    "node_definition": definition,
                    "message": recorded.name,
                    "severity": "ERROR" if recorded.name == "exception" else "INFO",
                    "attributes": recorded.attributes,
                },
            )
            for index, recorded in enumerate(span.events)
        ),
        event(
            EventName.NODE_REJECTED if error is not None else EventName.NODE_FULFILLED,
            "ended",
            ended,
            end_body,
        ),
    ]
    if span.parent_span_id:
        return node
    # The trace's root: the execution's own workflow events around its node span.
    workflow_definition = {
        "id": _definition_id(f"{span.scope_name}:{span.name}:workflow"),
        "name": span.name,
        "module": module,
    }
    # `otel` names the node span that is this trace's root span: `otel_traces` holds the span
    # once, from that node's terminal event, never from the workflow's copy of it.
    root_of: dict[str, Json] = {"root_span": node_text}
    workflow_end: dict[str, Json] = {"workflow_definition": workflow_definition, "otel": root_of}
    if error is not None:
        workflow_end["error"] = error[0]
    else:
        workflow_end["outputs"] = outputs
    return [
        event(
            EventName.WORKFLOW_INITIATED,
            "workflow.initiated",
            started,
            {"workflow_definition": workflow_definition, "inputs": inputs, "otel": root_of},
            on=execution_id,
            on_text=execution_text,
            within=None,
            within_id=None,
        ),
        *node,
        event(
            EventName.WORKFLOW_REJECTED if error is not None else EventName.WORKFLOW_FULFILLED,
            "workflow.ended",
            ended,
            workflow_end,
            on=execution_id,
            on_text=execution_text,
            within=None,
            within_id=None,
        ),
    ]


def otel_record(span: OtelSpan) -> dict[str, Json]:
    """Everything of the span the Vellum shape has no place for, as OpenTelemetry names it,
    and the span's bytes as received: protobuf's in base64, JSON's as its text."""
    record: dict[str, Json] = {
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "trace_state": span.trace_state,
        "name": span.name,
        "kind": span.kind,
        "start_time_unix_nano": span.start_ns,
        "end_time_unix_nano": span.end_ns,
        "attributes": span.attributes,
        "status": {"code": span.status_code, "message": span.status_message},
        "events": [
            {"time_unix_nano": event.time_ns, "name": event.name, "attributes": event.attributes}
            for event in span.events
        ],
        "links": list(span.links),
        "resource": {"attributes": span.resource},
        "scope": {
            "name": span.scope_name,
            "version": span.scope_version,
            "attributes": span.scope_attributes,
        },
    }
    if span.received is not None:
        encoding, data = span.received
        record["received"] = (
            {"encoding": "protobuf", "base64": base64.b64encode(data).decode()}
            if encoding == "protobuf"
            else {"encoding": "json", "text": data.decode()}
        )
    return record


def definition_of(scope_name: str, span_name: str) -> dict[str, Json]:
    """A span's node definition: `{scope}:{name}`, its id stable across runs."""
    return {
        "id": _definition_id(f"{scope_name}:{span_name}"),
        "name": span_name,
        "module": scope_name.split(".") if scope_name else [],
    }


def span_values(attributes: Mapping[str, Json]) -> tuple[dict[str, Json], dict[str, Json]]:
    """A span's inputs and outputs as the OpenInference or GenAI attributes give them."""
    return (
        _values(attributes, "input", _INPUT_MESSAGES),
        _values(attributes, "output", _OUTPUT_MESSAGES),
    )


def _values(
    attributes: Mapping[str, Json], direction: str, messages: tuple[str, ...]
) -> dict[str, Json]:
    """OpenInference's `{direction}.value` (JSON when its `.mime_type` says so), else the
    first GenAI messages attribute present."""
    if f"{direction}.value" in attributes:
        value = attributes[f"{direction}.value"]
        if attributes.get(f"{direction}.mime_type") == "application/json" and isinstance(
            value, str
        ):
            value = decoded_json(value)
        return {"value": value}
    for key in messages:
        if key in attributes:
            value = attributes[key]
            return {"messages": decoded_json(value) if isinstance(value, str) else value}
    return {}


def decoded_json(text: str) -> Json:
    """A JSON attribute's value; the text itself when it is not JSON (cut by a length limit)."""
    try:
        decoded: Json = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    return decoded


def span_error(
    status_code: str, status_message: str, events: Sequence[SpanEvent]
) -> tuple[dict[str, Json], str | None] | None:
    """The Vellum error and stack trace of a failed span; None when it did not fail."""
    exceptions = [event for event in events if event.name == "exception"]
    failed = status_code == "STATUS_CODE_ERROR" or (
        status_code == "STATUS_CODE_UNSET" and bool(exceptions)
    )
    if not failed:
        return None
    recorded = exceptions[-1].attributes if exceptions else {}
    kind = recorded.get("exception.type")
    message = recorded.get("exception.message") or kind or status_message
    stacktrace = recorded.get("exception.stacktrace")
    error: dict[str, Json] = {
        "message": str(message or "the span ended with status ERROR"),
        "code": ERROR_CODE,
        "raw_data": {"exception_type": kind} if kind else None,
    }
    return error, str(stacktrace) if stacktrace else None


def _count(attributes: Mapping[str, Json], keys: tuple[str, ...]) -> int | None:
    for key in keys:
        value = attributes.get(key)
        # NaN and the infinities count nothing (and int() of them raises).
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return int(value)
    return None


def usage_result(attributes: Mapping[str, Json]) -> dict[str, Json] | None:
    """Vellum's `WorkflowExecutionUsageCalculationFulfilledBody` from GenAI or OpenInference
    attributes; None without token counts. Cost only when an attribute gives it in USD."""
    counts = {
        "input_token_count": _count(attributes, _INPUT_TOKENS),
        "output_token_count": _count(attributes, _OUTPUT_TOKENS),
        "cache_read_input_tokens": _count(attributes, _CACHE_READ_TOKENS),
        "cache_creation_input_tokens": _count(attributes, _CACHE_CREATION_TOKENS),
    }
    if counts["input_token_count"] is None and counts["output_token_count"] is None:
        return None
    model = next((m for k in _MODEL if isinstance(m := attributes.get(k), str) and m), "unknown")
    cost = next(
        (
            value
            for key in _COST
            if isinstance(value := attributes.get(key), int | float) and not isinstance(value, bool)
        ),
        None,
    )
    return {
        "usage": [
            {
                "ml_model_name": model,
                "ml_model_usage": {k: v for k, v in counts.items() if v is not None},
            }
        ],
        # orjson writes NaN and the infinities as null: the value is what the event holds, so
        # the check refuses the span for what its record would say ("must be a number").
        "cost": [{"value": float(cost) if math.isfinite(cost) else None, "unit": "USD"}]
        if cost is not None
        else [],
    }


def timestamp(time_ns: int | None) -> str:
    """ISO-8601 UTC with microseconds and a `Z`, as the Vellum SDK writes them."""
    return _iso(datetime.now(UTC) if time_ns is None else moment(time_ns))


def moment(time_ns: int) -> datetime:
    """The UTC time of nanoseconds since the epoch, to the microsecond (what `timestamp`
    writes, and what reading that back gives)."""
    return _EPOCH + timedelta(microseconds=time_ns // 1000)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")
