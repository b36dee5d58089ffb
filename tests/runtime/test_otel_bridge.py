"""The OpenTelemetry bridge: spans of a bound run become valid Vellum node events."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

import orjson
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from pydantic import TypeAdapter
from vellum.client.types import WorkflowEvent, WorkflowExecutionUsageCalculationFulfilledBody

from domain.batch import split_body, validate_batch
from domain.lineage import parent_chain
from runtime.function_runs import shared_bridge
from runtime.nodes import node
from runtime.otel import NodeEventBridge, RunContext

Event = dict[str, Any]

_TRACER = trace.get_tracer("tests.runtime")
_WORKFLOW_EVENT: TypeAdapter[WorkflowEvent] = TypeAdapter(WorkflowEvent)
_USAGE: TypeAdapter[WorkflowExecutionUsageCalculationFulfilledBody] = TypeAdapter(
    WorkflowExecutionUsageCalculationFulfilledBody
)


@pytest.fixture(scope="module")
def bridge() -> NodeEventBridge:
    """The runtime's bridge on the global SDK provider: `@node` spans go there."""
    return shared_bridge()


def workflow_context(execution_id: UUID, parent: Event | None = None) -> Event:
    return {
        "type": "WORKFLOW",
        "span_id": str(execution_id),
        "workflow_definition": {"id": str(uuid4()), "name": "Run", "module": ["tests"]},
        "parent": parent or {"type": "EXTERNAL", "span_id": str(uuid4()), "parent": None},
    }


def new_run() -> tuple[RunContext, list[Event]]:
    events: list[Event] = []
    execution_id = uuid4()
    return RunContext(execution_id, uuid4(), workflow_context(execution_id), events.append), events


def checked(context: RunContext, events: list[Event]) -> list[Event]:
    """The events, once each has passed ingest validation and parsed as a client model."""
    batch = validate_batch(split_body(orjson.dumps(events), 1000))
    assert len(batch.envelopes) == len(events)
    assert {envelope.execution_id for envelope in batch.envelopes} <= {context.execution_id}
    assert {envelope.trace_id for envelope in batch.envelopes} <= {context.trace_id}
    for event in events:
        assert _WORKFLOW_EVENT.validate_python(event).name == event["name"]
    return events


def chain(event: Event) -> list[str]:
    return [context["span_id"] for context in parent_chain(event["parent"])]


def named(events: list[Event], name: str, event_name: str) -> Event:
    [event] = [
        e
        for e in events
        if e["body"]["node_definition"]["name"] == name and e["name"] == event_name
    ]
    return event


INITIATED, FULFILLED, REJECTED = (
    "node.execution.initiated",
    "node.execution.fulfilled",
    "node.execution.rejected",
)


@node
def outer(x: int) -> dict[str, int]:
    return {"doubled": middle(x) * 2}


@node(name="the-middle")
def middle(x: int) -> int:
    return inner(x) + 1


@node
def inner(x: int) -> int:
    with _TRACER.start_as_current_span("raw", attributes={"query": "q"}) as span:
        span.set_attribute("rows", 3)
    return x


def test_nested_nodes_and_a_raw_span_chain_up_to_the_run(bridge: NodeEventBridge) -> None:
    context, events = new_run()

    assert bridge.run(context, outer, 5) == {"doubled": 12}

    checked(context, events)
    assert [(e["name"], e["body"]["node_definition"]["name"]) for e in events] == [
        (INITIATED, "outer"),
        (INITIATED, "the-middle"),
        (INITIATED, "inner"),
        (INITIATED, "raw"),
        (FULFILLED, "raw"),
        (FULFILLED, "inner"),
        (FULFILLED, "the-middle"),
        (FULFILLED, "outer"),
    ]
    span = {e["body"]["node_definition"]["name"]: e["span_id"] for e in events}
    run, external = str(context.execution_id), context.workflow_context["parent"]["span_id"]
    expected = {
        "outer": [run, external],
        "the-middle": [span["outer"], run, external],
        "inner": [span["the-middle"], span["outer"], run, external],
        "raw": [span["inner"], span["the-middle"], span["outer"], run, external],
    }
    assert {e["body"]["node_definition"]["name"]: chain(e) for e in events} == expected
    raw = named(events, "raw", INITIATED)
    assert [c["type"] for c in parent_chain(raw["parent"])] == [
        *["WORKFLOW_NODE"] * 3,
        "WORKFLOW",
        "EXTERNAL",
    ]
    assert (
        raw["parent"]["node_definition"]
        == named(events, "inner", INITIATED)["body"]["node_definition"]
    )
    assert named(events, "outer", INITIATED)["body"]["inputs"] == {"x": 5}
    assert named(events, "outer", FULFILLED)["body"]["outputs"] == {"doubled": 12}
    assert named(events, "the-middle", FULFILLED)["body"]["outputs"] == {"value": 6}
    assert raw["body"]["inputs"] == {"query": "q"}
    assert named(events, "raw", FULFILLED)["body"]["outputs"] == {"rows": 3}


def test_span_ids_map_deterministically_and_definitions_are_stable(
    bridge: NodeEventBridge,
) -> None:
    otel_ids: list[int] = []

    @node
    def probe() -> None:
        otel_ids.append(trace.get_current_span().get_span_context().span_id)

    runs = [new_run(), new_run()]
    for context, _ in runs:
        bridge.run(context, probe)

    for (context, events), otel_id in zip(runs, otel_ids, strict=True):
        checked(context, events)
        expected = str(uuid5(context.execution_id, f"{otel_id:016x}"))
        assert {e["span_id"] for e in events} == {expected}
    [first, second] = [events[0]["body"]["node_definition"] for _, events in runs]
    assert first == second
    assert first["module"] == ["tests", "runtime", "test_otel_bridge"]
    other, other_events = new_run()
    bridge.run(other, inner, 1)
    assert other_events[0]["body"]["node_definition"]["id"] != first["id"]


@node
def fails(reason: str) -> None:
    raise ValueError(f"bad input: {reason}")


@node
def calls_failing() -> None:
    fails("x")


def test_an_exception_rejects_the_node_with_its_message_and_stack_trace(
    bridge: NodeEventBridge,
) -> None:
    context, events = new_run()

    with pytest.raises(ValueError, match="bad input: x"):
        bridge.run(context, calls_failing)

    checked(context, events)
    assert [(e["name"], e["body"]["node_definition"]["name"]) for e in events] == [
        (INITIATED, "calls_failing"),
        (INITIATED, "fails"),
        (REJECTED, "fails"),
        (REJECTED, "calls_failing"),
    ]
    body = named(events, "fails", REJECTED)["body"]
    assert body["error"] == {
        "message": "bad input: x",
        "code": "NODE_EXECUTION",
        "raw_data": {"exception_type": "ValueError"},
    }
    assert 'raise ValueError(f"bad input: {reason}")' in body["stacktrace"]
    assert body["stacktrace"].rstrip().endswith("ValueError: bad input: x")
    assert "outputs" not in body


def _error_status(span: trace.Span) -> None:
    span.set_status(Status(StatusCode.ERROR, "quota exhausted"))


def _recorded_exception(span: trace.Span) -> None:
    span.record_exception(KeyError("k"))


def _recorded_then_ok(span: trace.Span) -> None:
    span.record_exception(KeyError("k"))
    span.set_status(Status(StatusCode.OK))


@pytest.mark.parametrize(
    ("mark", "outcome", "error"),
    [
        pytest.param(
            _error_status,
            REJECTED,
            {"message": "quota exhausted", "code": "NODE_EXECUTION", "raw_data": None},
            id="error-status",
        ),
        pytest.param(
            _recorded_exception,
            REJECTED,
            {
                "message": "'k'",
                "code": "NODE_EXECUTION",
                "raw_data": {"exception_type": "KeyError"},
            },
            id="exception-event-status-unset",
        ),
        pytest.param(_recorded_then_ok, FULFILLED, None, id="exception-event-status-ok"),
    ],
)
def test_a_raw_span_fails_by_error_status_or_an_exception_left_unset(
    bridge: NodeEventBridge, mark: Any, outcome: str, error: Event | None
) -> None:
    context, events = new_run()
    with bridge.bound(context):
        span = _TRACER.start_span("call")
        mark(span)
        span.end()

    checked(context, events)
    assert [e["name"] for e in events] == [INITIATED, outcome]
    assert events[1]["body"].get("error") == error


def test_span_times_become_utc_timestamps_with_microseconds(bridge: NodeEventBridge) -> None:
    start = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    start_ns = int(start.timestamp()) * 1_000_000_000 + 123_456_789
    context, events = new_run()
    with bridge.bound(context):
        _TRACER.start_span("timed", start_time=start_ns).end(end_time=start_ns + 2_000_000_001)

    checked(context, events)
    assert [e["timestamp"] for e in events] == [
        "2026-11-23T12:00:00.123456Z",
        "2026-11-23T12:00:02.123456Z",
    ]


@node
async def fetch(i: int) -> int:
    await asyncio.sleep(0)
    return i * 10


@node
async def gather_all(n: int) -> list[int]:
    return list(await asyncio.gather(*(fetch(i) for i in range(n))))


def test_async_nodes_and_their_tasks_map_to_the_run(bridge: NodeEventBridge) -> None:
    context, events = new_run()

    with bridge.bound(context):
        assert asyncio.run(gather_all(3)) == [0, 10, 20]

    checked(context, events)
    assert sorted(e["name"] for e in events) == [FULFILLED] * 4 + [INITIATED] * 4
    parent = named(events, "gather_all", INITIATED)["span_id"]
    fetched = [e for e in events if e["body"]["node_definition"]["name"] == "fetch"]
    assert {e["parent"]["span_id"] for e in fetched} == {parent}
    inputs = {e["span_id"]: e["body"]["inputs"]["i"] for e in fetched if e["name"] == INITIATED}
    ends = [e for e in fetched if e["name"] == FULFILLED]
    outputs = {e["span_id"]: e["body"]["outputs"]["value"] for e in ends}
    assert sorted(inputs.values()) == [0, 1, 2]
    assert outputs == {span: i * 10 for span, i in inputs.items()}
    assert named(events, "gather_all", FULFILLED)["body"]["outputs"] == {"value": [0, 10, 20]}


@node
def in_worker(label: str) -> str:
    return label


def _attached(parent: otel_context.Context, label: str) -> str:
    token = otel_context.attach(parent)
    try:
        return in_worker(label)
    finally:
        otel_context.detach(token)


@node
def fan_out() -> list[str]:
    with ThreadPoolExecutor(3) as pool:
        copied = pool.submit(contextvars.copy_context().run, in_worker, "copied")
        attached = pool.submit(_attached, otel_context.get_current(), "attached")
        detached = pool.submit(in_worker, "detached")
        return [copied.result(), attached.result(), detached.result()]


def test_spans_in_worker_threads_map_to_the_run_only_with_the_context_propagated(
    bridge: NodeEventBridge,
) -> None:
    context, events = new_run()

    assert bridge.run(context, fan_out) == ["copied", "attached", "detached"]

    checked(context, events)
    parent = named(events, "fan_out", INITIATED)["span_id"]
    workers = {
        e["body"]["inputs"]["label"]: e["parent"]["span_id"]
        for e in events
        if e["name"] == INITIATED and e["body"]["node_definition"]["name"] == "in_worker"
    }
    assert workers == {"copied": parent, "attached": parent}
    assert len(events) == 6  # fan_out and the two propagated workers


def test_spans_outside_a_bound_run_make_no_events(bridge: NodeEventBridge) -> None:
    context, events = new_run()
    inside: list[otel_context.Context] = []

    in_worker("before")
    with bridge.bound(context):
        in_worker("during")
        inside.append(otel_context.get_current())
    with _TRACER.start_as_current_span("late", context=inside[0]):
        in_worker("after, in the finished run's trace")
    in_worker("after")

    checked(context, events)
    assert [(e["name"], e["body"]["inputs"]) for e in events if e["name"] == INITIATED] == [
        (INITIATED, {"label": "during"})
    ]
    assert len(events) == 2


def test_concurrent_runs_each_get_only_their_own_spans(bridge: NodeEventBridge) -> None:
    barrier = threading.Barrier(8, timeout=10)

    @node
    def step(i: int) -> int:
        barrier.wait()  # every run is inside its nodes at the same time
        return i

    @node
    def run_of(i: int) -> int:
        return step(i)

    runs = [new_run() for _ in range(8)]
    threads = [
        threading.Thread(target=bridge.run, args=(context, run_of, i))
        for i, (context, _) in enumerate(runs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    for i, (context, events) in enumerate(runs):
        checked(context, events)
        assert [e["name"] for e in events] == [INITIATED, INITIATED, FULFILLED, FULFILLED]
        assert [e["body"]["inputs"] for e in events if e["name"] == INITIATED] == [{"i": i}] * 2


@pytest.mark.parametrize(
    ("attributes", "usage_result"),
    [
        pytest.param(
            {
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 30,
                "gen_ai.usage.cache_read.input_tokens": 100,
                "gen_ai.usage.cost": 0.0021,
            },
            {
                "usage": [
                    {
                        "ml_model_name": "gpt-4o-2024-08-06",
                        "ml_model_usage": {
                            "input_token_count": 120,
                            "output_token_count": 30,
                            "cache_read_input_tokens": 100,
                        },
                    }
                ],
                "cost": [{"value": 0.0021, "unit": "USD"}],
            },
            id="current-names-with-cost",
        ),
        pytest.param(
            {
                "gen_ai.request.model": "claude-3-haiku",
                "gen_ai.usage.prompt_tokens": 7,
                "gen_ai.usage.completion_tokens": 3,
            },
            {
                "usage": [
                    {
                        "ml_model_name": "claude-3-haiku",
                        "ml_model_usage": {"input_token_count": 7, "output_token_count": 3},
                    }
                ],
                "cost": [],
            },
            id="older-names-request-model-no-cost",
        ),
        pytest.param({"gen_ai.request.model": "gpt-4o"}, None, id="no-token-counts"),
    ],
)
def test_genai_attributes_become_usage_result(
    bridge: NodeEventBridge, attributes: dict[str, Any], usage_result: Event | None
) -> None:
    context, events = new_run()
    with bridge.bound(context), _TRACER.start_as_current_span("chat") as span:
        span.set_attributes(attributes)

    checked(context, events)
    assert events[1]["name"] == FULFILLED
    assert events[1]["body"].get("usage_result") == usage_result
    if usage_result is not None:
        _USAGE.validate_python(usage_result)


def test_a_rejected_node_keeps_its_usage(bridge: NodeEventBridge) -> None:
    @node
    def overlong() -> None:
        trace.get_current_span().set_attributes(
            {"gen_ai.response.model": "m", "gen_ai.usage.input_tokens": 9000}
        )
        raise RuntimeError("context window exceeded")

    context, events = new_run()
    with pytest.raises(RuntimeError):
        bridge.run(context, overlong)

    checked(context, events)
    assert events[1]["name"] == REJECTED
    assert events[1]["body"]["usage_result"] == {
        "usage": [{"ml_model_name": "m", "ml_model_usage": {"input_token_count": 9000}}],
        "cost": [],
    }


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


@node
def shapes(a: int, b: object, *rest: int, flag: bool = True, **extra: Any) -> tuple[int, int]:
    return (a, 2**70)


def test_node_records_arguments_by_name_and_falls_back_to_repr(bridge: NodeEventBridge) -> None:
    context, events = new_run()

    bridge.run(context, shapes, 1, {"inner": [Opaque(), 1]}, 3, 4, colour=Opaque())

    checked(context, events)
    assert events[0]["body"]["inputs"] == {
        "a": 1,
        "b": {"inner": ["<opaque>", 1]},
        "rest": [3, 4],
        "flag": True,
        "colour": "<opaque>",
    }
    assert events[1]["body"]["outputs"] == {"value": repr((1, 2**70))}


def test_node_refuses_generator_functions() -> None:
    def produce() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="generator"):
        node(produce)


@pytest.mark.parametrize(
    ("make_context", "accepted"),
    [
        pytest.param(workflow_context, True, id="the-run-workflow"),
        pytest.param(
            lambda run: workflow_context(uuid4(), parent=workflow_context(run)),
            True,
            id="a-sub-workflow-of-the-run",
        ),
        pytest.param(lambda run: workflow_context(uuid4()), False, id="another-workflow"),
        pytest.param(
            lambda run: workflow_context(run, parent=workflow_context(uuid4())),
            False,
            id="the-run-inside-another-execution",
        ),
        pytest.param(
            lambda run: {"type": "EXTERNAL", "span_id": str(run), "parent": None},
            False,
            id="not-a-workflow",
        ),
    ],
)
def test_run_context_refuses_a_workflow_context_of_another_execution(
    make_context: Any, accepted: bool
) -> None:
    execution_id = uuid4()
    context = make_context(execution_id)
    if accepted:
        RunContext(execution_id, uuid4(), context, lambda _: None)
    else:
        with pytest.raises(ValueError, match="workflow_context"):
            RunContext(execution_id, uuid4(), context, lambda _: None)


def test_a_failing_sink_never_breaks_the_workflow(
    bridge: NodeEventBridge, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise OSError("disk full")

    execution_id = uuid4()
    context = RunContext(execution_id, uuid4(), workflow_context(execution_id), broken)

    with caplog.at_level(logging.ERROR, logger="runtime.otel"):
        assert bridge.run(context, outer, 1) == {"doubled": 4}

    assert sum("could not emit" in record.message for record in caplog.records) == 8


def test_binding_with_a_tracer_that_records_nothing_is_refused(bridge: NodeEventBridge) -> None:
    context, _ = new_run()
    with (
        pytest.raises(RuntimeError, match="records no spans"),
        bridge.bound(context, tracer=trace.NoOpTracer()),
    ):
        pass
