"""Events every reader reads alike: repeated keys and integers past 64 bits are refused."""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson
import pytest

from domain.batch import split_body, validate_batch
from domain.envelope import Envelope, stored_envelope, validate_event
from domain.errors import InvalidBatch
from domain.exact_json import MAX_INTEGER, MIN_INTEGER, ambiguities
from tests.events import node_event, workflow_event


def _fulfilled() -> dict[str, Any]:
    event = workflow_event("fulfilled", str(uuid.uuid4()))
    event["body"]["outputs"] = {"result": "PLACEHOLDER"}
    return event


def _with(event: dict[str, Any], old: bytes, new: bytes) -> bytes:
    raw = orjson.dumps(event)
    assert raw.count(old) == 1
    return raw.replace(old, new)


def _refusals(raw: bytes) -> list[tuple[str, str]]:
    result = validate_event(orjson.loads(raw), raw, 0)
    assert isinstance(result, list), "expected the event to be refused"
    return [(e.field, e.reason) for e in result]


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        pytest.param(
            b'"outputs":{"result":"PLACEHOLDER"}',
            b'"outputs":{"result":"FAKE"},"outputs":{"result":"REAL"}',
            "body.outputs",
            id="outputs-twice",
        ),
        pytest.param(
            b'"result":"PLACEHOLDER"',
            b'"result":"FAKE","result":"REAL"',
            "body.outputs.result",
            id="an-output-twice",
        ),
        pytest.param(b'"links":null', b'"links":null,"links":[]', "links", id="top-level"),
    ],
)
def test_a_key_given_twice_is_refused_by_its_path(old: bytes, new: bytes, field: str) -> None:
    reasons = _refusals(_with(_fulfilled(), old, new))
    assert (field, "is given more than once in one object; send each key once") in reasons


def test_a_repeated_key_in_a_list_is_named_with_its_index() -> None:
    event = workflow_event("initiated", str(uuid.uuid4()))
    event["body"]["inputs"] = {"items": [{"a": 1}, {"b": 2}]}
    reasons = _refusals(_with(event, b'{"b":2}', b'{"b":2,"b":3}'))
    assert [field for field, _ in reasons] == ["body.inputs.items[1].b"]


@pytest.mark.parametrize(
    "number",
    [MAX_INTEGER + 1, MIN_INTEGER - 1, 123456789012345678901234567890, -(10**40)],
    ids=["2^64", "-2^63-1", "30-digits", "-10^40"],
)
def test_an_integer_past_64_bits_is_refused_by_its_path(number: int) -> None:
    raw = _with(_fulfilled(), b'"PLACEHOLDER"', str(number).encode())
    reasons = _refusals(raw)
    assert [field for field, _ in reasons] == ["body.outputs.result"]
    assert "send it as a string" in reasons[0][1]


@pytest.mark.parametrize("number", [MAX_INTEGER, MIN_INTEGER, 0, -1, 2**63])
def test_integers_within_64_bits_are_kept(number: int) -> None:
    raw = _with(_fulfilled(), b'"PLACEHOLDER"', str(number).encode())
    envelope = validate_event(orjson.loads(raw), raw, 0)
    assert isinstance(envelope, Envelope)


def test_an_event_written_with_spaces_and_escapes_is_checked_the_slow_way() -> None:
    event = _fulfilled()
    # Python's default separators and ASCII escapes: the bytes differ from orjson's own.
    raw = json.dumps(event, ensure_ascii=True).replace("PLACEHOLDER", "caf\\u00e9").encode()
    assert orjson.dumps(orjson.loads(raw)) != raw
    assert ambiguities(orjson.loads(raw), raw) == []
    repeated = raw.replace(b'"outputs": {', b'"outputs": {"x": 1}, "outputs": {', 1)
    assert ambiguities(orjson.loads(repeated), repeated) == [
        ("body.outputs", "is given more than once in one object; send each key once")
    ]


def test_a_batch_with_one_ambiguous_event_is_refused_whole() -> None:
    good = orjson.dumps(_fulfilled())
    bad = _with(_fulfilled(), b'"PLACEHOLDER"', b"18446744073709551616")
    with pytest.raises(InvalidBatch) as refused:
        validate_batch(split_body(b"[" + good + b"," + bad + b"]", 10))
    assert [(e.index, e.field) for e in refused.value.errors] == [(1, "body.outputs.result")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"error": {"message": "boom"}}, "body.error.code"),
        ({"error": {"code": "NODE_EXECUTION", "message": 7}}, "body.error.message"),
    ],
    ids=["no-code", "message-not-a-string"],
)
def test_a_rejection_needs_a_string_message_and_code(body: dict[str, Any], field: str) -> None:
    event = node_event("rejected", str(uuid.uuid4()), str(uuid.uuid4()))
    event["body"].update(body)
    assert field in [name for name, _ in _refusals(orjson.dumps(event))]


def test_a_snapshot_state_must_be_an_object() -> None:
    event = workflow_event("snapshotted", str(uuid.uuid4()))
    event["body"]["state"] = [1, 2]
    assert "body.state" in [name for name, _ in _refusals(orjson.dumps(event))]


@pytest.mark.parametrize("value", [1e16, -1e16, 1e308])
def test_a_cost_past_a_quadrillion_is_refused(value: float) -> None:
    event = node_event("fulfilled", str(uuid.uuid4()), str(uuid.uuid4()))
    event["body"]["usage_result"] = {"usage": [], "cost": [{"value": value, "unit": "USD"}]}
    assert "body.usage_result.cost[0].value" in [name for name, _ in _refusals(orjson.dumps(event))]


def test_the_log_files_an_event_older_rules_accepted() -> None:
    # What ingest refuses today the log may hold from before: reading it back must still work.
    event = workflow_event("rejected", str(uuid.uuid4()))
    event["body"]["error"] = "a plain string, accepted once"
    raw = _with(event, b'"links":null', b'"links":null,"links":null')
    assert isinstance(validate_event(orjson.loads(raw), raw, 0), list)
    envelope = stored_envelope(orjson.loads(raw), raw)
    assert envelope.span_id == uuid.UUID(event["span_id"])
