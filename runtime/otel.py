"""The OpenTelemetry bridge: spans started inside a run become Vellum node events.

The runtime runs a plain-function workflow inside `NodeEventBridge.bound(run)`, with the bridge
added to the global SDK `TracerProvider`. `bound` starts a root span in a trace of its own, and
every span started under it, in any thread or task that inherits the OpenTelemetry context,
becomes a `node.execution.initiated` event when it starts and a `node.execution.fulfilled` or
`node.execution.rejected` event when it ends, in the wire shape of Vellum's `WorkflowEvent`.
The root span becomes no event (the runtime emits the run's `workflow.execution.*` events),
and spans of any other trace are ignored.

How a span maps (its failure, usage, definition and times are read by domain/otel_mapping.py,
the functions OTLP ingest maps spans with):

- span id: `uuid5(execution_id, f"{otel_span_id:016x}")`, so a child finds its parent's id
  from its parent span context alone, and the same span always maps to the same id.
- parent: a span directly under the run's root gets the run's WORKFLOW context; a nested span
  gets a WORKFLOW_NODE context of its parent span, whose own `parent` is that span's parent,
  so every chain ends in the run's WORKFLOW context and the domain files it under the run.
- node definition: a `runtime.nodes.node` function is `{module}:{qualname}`, any other span
  `{instrumentation scope}:{span name}`; the id is a uuid5 of that, stable across runs.
- inputs and outputs: a `@node` span carries them as JSON in `INPUTS_ATTRIBUTE` and
  `OUTPUTS_ATTRIBUTE`. For any other span, the attributes it had when it started are its
  `inputs` and those set or changed after it started are its `outputs`: OpenTelemetry has
  neither notion, and instrumentations mostly set request attributes at start and response
  attributes at the end.
- failure: status ERROR, or an `exception` event on a span whose status was left UNSET, makes
  the span `rejected` with code NODE_EXECUTION (what the Vellum SDK gives an exception raised
  by a node's own code), the last exception's message (else the status description), its type
  in `raw_data`, and its `exception.stacktrace` as the body's `stacktrace`, where the SDK
  puts it. A span whose status was set OK is fulfilled whatever it recorded.
- usage: GenAI semantic-convention attributes (`gen_ai.usage.*_tokens`, the model) become
  `body.usage_result` `{"usage": [...], "cost": [...]}` on the fulfilled or rejected event;
  cost only from a `gen_ai.usage.cost` attribute in USD.

A span still open when its run's `bound` exits gets its initiated event but no outcome: the
run is unbound (its state freed) on exit, and later spans of its trace are ignored.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ParamSpec, TypeVar
from uuid import UUID, uuid4, uuid5

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import Tracer

from domain.envelope import Json
from domain.lineage import parent_chain
from domain.otel_mapping import (
    API_VERSION,
    NODE_DEFINITIONS,
    SpanEvent,
    decoded_json,
    definition_of,
    span_error,
    span_uuid,
    timestamp,
    usage_result,
)
from domain.vocabulary import WORKFLOW_CONTEXT_TYPE, EventName

INPUTS_ATTRIBUTE = "runledger.node.inputs"
OUTPUTS_ATTRIBUTE = "runledger.node.outputs"
MODULE_ATTRIBUTE = "runledger.node.module"
QUALNAME_ATTRIBUTE = "runledger.node.qualname"


_log = logging.getLogger(__name__)
_P = ParamSpec("_P")
_R = TypeVar("_R")

Sink = Callable[[dict[str, Json]], None]


@dataclass(frozen=True)
class RunContext:
    """What the node events of one run need: its ids, its WORKFLOW context, where events go.

    `sink` is called with each event dict in the order produced, from the thread that started
    or ended the span, never concurrently for one run. Events share nested dicts (the parent
    chain): treat them as read-only.
    """

    execution_id: UUID
    trace_id: UUID
    workflow_context: dict[str, Json]
    sink: Sink

    def __post_init__(self) -> None:
        # Refused here rather than by ingest later: a wrong context files every node event of
        # the run under another execution, or under none.
        if self.workflow_context.get("type") != WORKFLOW_CONTEXT_TYPE:
            raise ValueError("workflow_context must be a WORKFLOW parent context")
        workflows = [
            c for c in parent_chain(self.workflow_context) if c.get("type") == WORKFLOW_CONTEXT_TYPE
        ]
        if workflows[-1].get("span_id") != str(self.execution_id):
            raise ValueError(
                "the outermost WORKFLOW context of workflow_context must have span_id "
                f"{self.execution_id}, got {workflows[-1].get('span_id')!r}"
            )


def vellum_span_id(execution_id: UUID, otel_span_id: int) -> UUID:
    """The Vellum span id of an OpenTelemetry span of the run."""
    return span_uuid(execution_id, otel_span_id.to_bytes(8, "big"))


@dataclass(frozen=True, slots=True)
class _Node:
    span_id: UUID
    definition: dict[str, Json]
    parent: dict[str, Json]

    def as_parent(self) -> dict[str, Json]:
        return {
            "type": "WORKFLOW_NODE",
            "span_id": str(self.span_id),
            "node_definition": self.definition,
            "parent": self.parent,
        }


class _Run:
    """The state of one bound run; every method is called with `lock` held."""

    def __init__(self, context: RunContext) -> None:
        self.context = context
        self.lock = threading.Lock()
        # Kept until the run is unbound: a child may start after its parent ended.
        self.nodes: dict[int, _Node] = {}
        self.start_attributes: dict[int, dict[str, Json]] = {}

    def start(self, span: Span) -> dict[str, Json]:
        span_context = span.get_span_context()
        attributes = _attributes(span)
        parent = self.nodes.get(span.parent.span_id) if span.parent is not None else None
        node = _Node(
            span_id=vellum_span_id(self.context.execution_id, span_context.span_id),
            definition=_definition(span, attributes),
            parent=self.context.workflow_context if parent is None else parent.as_parent(),
        )
        self.nodes[span_context.span_id] = node
        self.start_attributes[span_context.span_id] = attributes
        if INPUTS_ATTRIBUTE in attributes:
            inputs = _decoded(attributes[INPUTS_ATTRIBUTE])
        else:
            inputs = attributes
        body = {"node_definition": node.definition, "inputs": inputs}
        return self._event(EventName.NODE_INITIATED, span.start_time, node, body)

    def end(self, span: ReadableSpan, otel_span_id: int) -> dict[str, Json] | None:
        node = self.nodes.get(otel_span_id)
        if node is None:
            return None
        started = self.start_attributes.pop(otel_span_id, {})
        attributes = _attributes(span)
        body: dict[str, Json] = {"node_definition": node.definition}
        error = _error(span)
        if error is not None:
            name = EventName.NODE_REJECTED
            body["error"], body["stacktrace"] = error
        else:
            name = EventName.NODE_FULFILLED
            if INPUTS_ATTRIBUTE in started:
                body["outputs"] = _decoded(attributes.get(OUTPUTS_ATTRIBUTE, "{}"))
            else:
                body["outputs"] = {
                    k: v for k, v in attributes.items() if k not in started or started[k] != v
                }
        usage = usage_result(attributes)
        if usage is not None:
            body["usage_result"] = usage
        return self._event(name, span.end_time, node, body)

    def _event(
        self, name: EventName, time_ns: int | None, node: _Node, body: dict[str, Json]
    ) -> dict[str, Json]:
        return {
            "id": str(uuid4()),
            "name": name.value,
            "timestamp": timestamp(time_ns),
            "api_version": API_VERSION,
            "trace_id": str(self.context.trace_id),
            "span_id": str(node.span_id),
            "parent": node.parent,
            "links": None,
            "body": body,
        }


class NodeEventBridge(SpanProcessor):
    """A span processor that turns the spans of bound runs into Vellum node events.

    Add it to the global SDK provider once; bind each run while its workflow runs:

        bridge = NodeEventBridge()
        provider.add_span_processor(bridge)
        result = bridge.run(RunContext(execution_id, trace_id, workflow_context, sink), main, x)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, _Run] = {}

    @contextmanager
    def bound(self, context: RunContext, tracer: Tracer | None = None) -> Iterator[None]:
        """Run the body under a root span whose descendants become `context`'s node events."""
        tracer = tracer if tracer is not None else trace.get_tracer(__name__)
        # A fresh trace (empty parent context), so a span around the runtime (an HTTP
        # request) and its other children never count as the run's nodes.
        root = tracer.start_span("runledger.run", context=Context())
        if not root.is_recording():
            root.end()
            raise RuntimeError(
                "the tracer records no spans: install an opentelemetry-sdk TracerProvider "
                "that samples every run and has this bridge as a span processor"
            )
        # Registered only once the root has started, so the root itself never becomes a node
        # (its end then finds no node of it and emits nothing).
        root_context = root.get_span_context()
        with self._lock:
            self._runs[root_context.trace_id] = _Run(context)
        token = otel_context.attach(trace.set_span_in_context(root))
        try:
            yield
        finally:
            otel_context.detach(token)
            root.end()
            with self._lock:
                del self._runs[root_context.trace_id]

    def run(
        self, context: RunContext, fn: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _R:
        """Call `fn(*args, **kwargs)` bound to the run (`bound` with the global tracer)."""
        with self.bound(context):
            return fn(*args, **kwargs)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        run = self._run_of(span.get_span_context().trace_id)
        if run is None:
            return
        # A processor must not raise into the code that started the span (the workflow).
        try:
            with run.lock:
                run.context.sink(run.start(span))
        except Exception:
            _log.exception("could not emit node.execution.initiated for span %r", span.name)

    def on_end(self, span: ReadableSpan) -> None:
        span_context = span.get_span_context()
        if span_context is None:
            return
        run = self._run_of(span_context.trace_id)
        if run is None:
            return
        try:
            with run.lock:
                event = run.end(span, span_context.span_id)
                if event is not None:
                    run.context.sink(event)
        except Exception:
            _log.exception("could not emit the outcome of span %r", span.name)

    def _run_of(self, trace_id: int) -> _Run | None:
        with self._lock:
            return self._runs.get(trace_id)


def _attributes(span: ReadableSpan) -> dict[str, Json]:
    # OpenTelemetry stores sequences as tuples; JSON has arrays.
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in (span.attributes or {}).items()
    }


def _decoded(value: Json) -> dict[str, Json]:
    """A JSON object attribute; anything else (e.g. truncated by a length limit) as a value."""
    decoded = decoded_json(value) if isinstance(value, str) else value
    return decoded if isinstance(decoded, dict) else {"value": decoded}


def _definition(span: ReadableSpan, attributes: Mapping[str, Json]) -> dict[str, Json]:
    module = attributes.get(MODULE_ATTRIBUTE)
    qualname = attributes.get(QUALNAME_ATTRIBUTE)
    if isinstance(module, str) and isinstance(qualname, str):
        key = f"{module}:{qualname}"
    else:
        scope = span.instrumentation_scope
        module = scope.name if scope is not None else ""
        key = f"{module}:{span.name}"
    return {**definition_of(module, span.name), "id": str(uuid5(NODE_DEFINITIONS, key))}


def _error(span: ReadableSpan) -> tuple[dict[str, Json], str | None] | None:
    """The Vellum error and stack trace of a failed span (domain/otel_mapping.py)."""
    events = [
        SpanEvent(event.name, event.timestamp or 0, dict(event.attributes or {}))
        for event in span.events
    ]
    status = span.status
    return span_error(f"STATUS_CODE_{status.status_code.name}", status.description or "", events)
