"""Validation of each envelope field, and where an event's execution is found."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from domain.envelope import MAX_NESTING, Envelope, validate_event
from domain.errors import FieldError
from domain.vocabulary import EVENT_NAMES, EventName
from tests.events import node_event, workflow_context, workflow_event


def _validate(event: dict[str, Any]) -> Envelope | list[FieldError]:
    return validate_event(event, orjson.dumps(event), 0)


def _fields(result: Envelope | list[FieldError]) -> list[tuple[str, str]]:
    assert isinstance(result, list), "expected the event to be refused"
    return [(e.field, e.reason) for e in result]


def test_the_vocabulary_has_vellums_fourteen_names() -> None:
    assert len(EVENT_NAMES) == 14
    assert sum(n.is_workflow for n in EventName) == 7


def test_a_root_workflow_event_is_its_own_execution() -> None:
    execution_id = str(uuid.uuid4())
    envelope = _validate(workflow_event("initiated", execution_id))
    assert isinstance(envelope, Envelope)
    assert envelope.execution_id == uuid.UUID(execution_id)
    assert envelope.timestamp == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_a_node_event_belongs_to_the_workflow_above_it() -> None:
    execution_id = str(uuid.uuid4())
    envelope = _validate(node_event("fulfilled", execution_id, str(uuid.uuid4())))
    assert isinstance(envelope, Envelope)
    assert envelope.execution_id == uuid.UUID(execution_id)
    assert envelope.parent_span_id == uuid.UUID(execution_id)


def test_a_nested_sub_workflow_belongs_to_the_root_execution() -> None:
    root, node, sub = (str(uuid.uuid4()) for _ in range(3))
    chain = {"type": "WORKFLOW_NODE", "span_id": node, "parent": workflow_context(root)}
    event = workflow_event("fulfilled", sub)
    event["parent"] = chain
    inner_node = node_event("initiated", root, str(uuid.uuid4()))
    inner_node["parent"] = workflow_context(sub, parent=chain)
    for candidate in (event, inner_node):
        envelope = _validate(candidate)
        assert isinstance(envelope, Envelope)
        assert envelope.execution_id == uuid.UUID(root)


def test_a_node_event_without_a_workflow_above_it_is_refused() -> None:
    event = node_event("initiated", str(uuid.uuid4()), str(uuid.uuid4()))
    event["parent"] = {"type": "EXTERNAL", "span_id": "caller-1", "parent": None}
    assert _fields(_validate(event)) == [
        (
            "parent",
            "a node event needs a WORKFLOW context in its parent chain to find its execution",
        )
    ]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(
            {"name": "workflow.execution.exploded"},
            "name",
            "is not a known event name",
            id="unknown-name",
        ),
        pytest.param({"name": None}, "name", "is required", id="missing-name"),
        pytest.param({"id": None}, "id", "is required", id="missing-id"),
        pytest.param({"id": "event-1"}, "id", "must be a UUID string", id="non-uuid-id"),
        pytest.param({"id": 42}, "id", "must be a UUID string", id="numeric-id"),
        pytest.param(
            {"timestamp": "yesterday"}, "timestamp", "is not an ISO-8601", id="bad-timestamp"
        ),
        pytest.param(
            {"timestamp": "2026-11-23T12:00:00"},
            "timestamp",
            "must carry a time zone",
            id="naive-timestamp",
        ),
        pytest.param(
            {"timestamp": 1700000000},
            "timestamp",
            "must be an ISO-8601 string, got number",
            id="epoch-timestamp",
        ),
        pytest.param({"trace_id": "t"}, "trace_id", "must be a UUID string", id="bad-trace-id"),
        pytest.param({"span_id": None}, "span_id", "is required", id="missing-span-id"),
        pytest.param(
            {"api_version": 2024},
            "api_version",
            "must be a string or null",
            id="numeric-api-version",
        ),
        pytest.param({"body": [1]}, "body", "must be an object, got array", id="array-body"),
        pytest.param({"body": None}, "body", "must be an object, got null", id="missing-body"),
        pytest.param(
            {"links": {}}, "links", "must be an array or null, got object", id="object-links"
        ),
        pytest.param(
            {"parent": "root"},
            "parent",
            "must be an object or null, got string",
            id="string-parent",
        ),
        pytest.param(
            {"parent": {"span_id": "x"}}, "parent.type", "is required", id="parent-without-type"
        ),
        pytest.param(
            {"parent": {"type": "WORKFLOW", "span_id": "not-a-uuid"}},
            "parent.span_id",
            "must be a UUID",
            id="bad-workflow-span",
        ),
    ],
)
def test_a_bad_field_is_named_with_its_reason(
    change: dict[str, Any], field: str, reason: str
) -> None:
    event = {**workflow_event("initiated", str(uuid.uuid4())), **change}
    errors = _fields(_validate(event))
    assert any(f == field and reason in r for f, r in errors), errors


def test_every_problem_of_an_event_is_reported_not_only_the_first() -> None:
    errors = _fields(_validate({"name": "nope", "id": "x", "timestamp": "t", "body": 1}))
    assert {f for f, _ in errors} == {"name", "id", "timestamp", "trace_id", "span_id", "body"}


def test_an_event_that_is_not_an_object_is_refused() -> None:
    assert _fields(validate_event([1, 2], b"[1,2]", 3)) == [
        ("event", "must be a JSON object, got array")
    ]


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def test_an_event_nested_deeper_than_the_reads_can_write_is_refused() -> None:
    # The event is one level and its body another: a body value of MAX_NESTING - 2 levels
    # is as deep as an event may go.
    event = workflow_event("fulfilled", str(uuid.uuid4()))
    event["body"]["outputs"] = {"deep": _nested(MAX_NESTING - 3)}
    assert isinstance(_validate(event), Envelope)
    event["body"]["outputs"] = {"deep": _nested(MAX_NESTING - 2)}
    assert _fields(_validate(event)) == [
        ("body", f"nests objects and arrays deeper than {MAX_NESTING} levels in the event")
    ]
    # What the reads write back out: orjson refuses to write 255 levels.
    with pytest.raises(orjson.JSONEncodeError):
        orjson.dumps(_nested(255))


def test_many_brackets_that_do_not_nest_are_accepted() -> None:
    event = workflow_event("fulfilled", str(uuid.uuid4()))
    event["body"]["outputs"] = {"rows": [{"n": [n]} for n in range(MAX_NESTING)]}
    assert isinstance(_validate(event), Envelope)


def test_an_endless_parent_chain_is_refused() -> None:
    parent: dict[str, Any] = {"type": "EXTERNAL", "span_id": "x", "parent": None}
    for _ in range(200):
        parent = {"type": "EXTERNAL", "span_id": "x", "parent": parent}
    event = {**workflow_event("initiated", str(uuid.uuid4())), "parent": parent}
    assert any("nests deeper" in r for _, r in _fields(_validate(event)))


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        pytest.param(
            {"timestamp": "0001-01-01T00:00:00+01:00"},
            "timestamp",
            "out of range",
            id="before-year-one",
        ),
        pytest.param(
            {"timestamp": "9999-12-31T23:59:59-01:00"}, "timestamp", "out of range", id="after-9999"
        ),
        pytest.param(
            {"parent": {"type": ["WORKFLOW"], "span_id": "x"}},
            "parent.type",
            "must be a string",
            id="list-type",
        ),
        pytest.param(
            {"parent": {"type": {"a": 1}, "span_id": "x"}},
            "parent.type",
            "must be a string",
            id="object-type",
        ),
        pytest.param({"links": [1]}, "links[0]", "must be an object", id="number-link"),
        pytest.param(
            {"body": {"outputs": [1, 2]}}, "body.outputs", "must be an object", id="list-outputs"
        ),
        pytest.param(
            {"body": {"inputs": "x"}}, "body.inputs", "must be an object", id="string-inputs"
        ),
        pytest.param(
            {"name": "workflow.execution.rejected", "body": {"error": "boom"}},
            "body.error",
            "must be an object with message and code",
            id="string-error",
        ),
        pytest.param(
            {"name": "node.execution.rejected", "body": {"error": {"code": "NODE_EXECUTION"}}},
            "body.error.message",
            "is required and must be a string",
            id="error-without-message",
        ),
        pytest.param(
            {"name": "workflow.execution.rejected", "body": {"error": {"message": "m", "code": 5}}},
            "body.error.code",
            "must be a string",
            id="numeric-error-code",
        ),
        pytest.param(
            {"links": [{"type": "TRIGGERED_BY"}]},
            "links[0].trace_id",
            "is required",
            id="link-without-trace",
        ),
        pytest.param(
            {"links": [{"type": "TRIGGERED_BY", "trace_id": "t"}]},
            "links[0].span_context",
            "is required",
            id="link-without-context",
        ),
    ],
)
def test_hostile_fields_are_refused_with_a_reason_not_a_crash(
    change: dict[str, Any], field: str, reason: str
) -> None:
    event = {**workflow_event("initiated", str(uuid.uuid4())), **change}
    errors = _fields(_validate(event))
    assert any(f == field and reason in r for f, r in errors), errors


def _with_usage(usage_result: Any) -> dict[str, Any]:
    event = node_event("fulfilled", str(uuid.uuid4()), str(uuid.uuid4()))
    event["body"]["usage_result"] = usage_result
    return event


def test_a_well_formed_usage_result_is_accepted() -> None:
    usage = {
        "usage": [
            {
                "ml_model_name": "gpt-4o",
                "ml_model_usage": {"input_token_count": 10, "output_token_count": None},
            }
        ],
        "cost": [{"value": 0.25, "unit": "USD"}, {"value": 1}],
    }
    event = _with_usage(usage)
    assert isinstance(validate_event(event, orjson.dumps(event), 0), Envelope)


@pytest.mark.parametrize(
    ("usage_result", "field"),
    [
        pytest.param("lots", "body.usage_result", id="not-an-object"),
        pytest.param({"cost": []}, "body.usage_result.usage", id="usage-missing"),
        pytest.param({"usage": []}, "body.usage_result.cost", id="cost-missing"),
        pytest.param(
            {"usage": [{"ml_model_usage": {}}], "cost": []},
            "body.usage_result.usage[0].ml_model_name",
            id="model-name-missing",
        ),
        pytest.param(
            {
                "usage": [{"ml_model_name": "m", "ml_model_usage": {"input_token_count": -1}}],
                "cost": [],
            },
            "body.usage_result.usage[0].ml_model_usage.input_token_count",
            id="negative-count",
        ),
        pytest.param(
            {
                "usage": [{"ml_model_name": "m", "ml_model_usage": {"input_token_count": 2**53}}],
                "cost": [],
            },
            "body.usage_result.usage[0].ml_model_usage.input_token_count",
            id="count-past-what-json-clients-read-exactly",
        ),
        pytest.param(
            {"usage": [], "cost": [{"value": 1.0, "unit": "EUR"}]},
            "body.usage_result.cost[0].unit",
            id="unit-the-client-cannot-parse",
        ),
        pytest.param(
            {"usage": [], "cost": [{"value": 0, "unit": {}}]},
            "body.usage_result.cost[0].unit",
            id="unit-an-object",
        ),
        pytest.param(
            {"usage": [], "cost": [{"value": 0, "unit": ["USD"]}]},
            "body.usage_result.cost[0].unit",
            id="unit-a-list",
        ),
        pytest.param(
            {"usage": [], "cost": [{"value": "1.0"}]},
            "body.usage_result.cost[0].value",
            id="cost-not-a-number",
        ),
    ],
)
def test_a_malformed_usage_result_is_refused_naming_the_field(
    usage_result: Any, field: str
) -> None:
    event = _with_usage(usage_result)
    errors = validate_event(event, orjson.dumps(event), 0)
    assert isinstance(errors, list)
    assert [e.field for e in errors] == [field]
