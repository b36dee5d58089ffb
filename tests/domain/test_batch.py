"""Splitting bodies into events with their exact bytes, and validating a batch whole."""

from __future__ import annotations

import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.batch import _split_body_slowly, _split_objects, split_body, validate_batch
from domain.errors import InvalidBatch, InvalidBody
from tests.events import execution, workflow_event


def test_each_event_keeps_the_exact_bytes_it_was_sent_as() -> None:
    first = b'{"a": 1,  "b": [1, 2]}'
    second = '{"name":"caf\u00e9","x":{"y":null}}'.encode()
    body = b"[\n  " + first + b" ,\n\t" + second + b"\n]\n"
    items = split_body(body, max_events=100)
    assert [raw for _, raw in items] == [first, second]
    assert items[1][0] == {"name": "café", "x": {"y": None}}


def test_a_single_object_body_is_one_event() -> None:
    body = b'  {"k": "v"}  '
    assert split_body(body, max_events=100) == [({"k": "v"}, b'{"k": "v"}')]


def test_an_empty_array_is_no_events() -> None:
    assert split_body(b"[ ]", max_events=100) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"[1, 2", "not valid JSON", id="unterminated"),
        pytest.param(b"[1,]", "not valid JSON", id="trailing-comma"),
        pytest.param(b"[1 2]", "not valid JSON", id="missing-comma"),
        pytest.param(b"{} {}", "not valid JSON", id="two-values"),
        pytest.param(b'{"a": NaN}', "not valid JSON", id="nan"),
        pytest.param(b"\xff\xfe", "not UTF-8", id="not-utf8"),
    ],
)
def test_a_body_that_is_not_json_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidBody, match=reason):
        split_body(body, max_events=100)


def test_one_bad_event_rejects_the_batch_and_names_it_by_index() -> None:
    events = execution(node_count=1)
    events[2]["timestamp"] = "not a time"
    del events[3]["id"]
    body = orjson.dumps(events)
    with pytest.raises(InvalidBatch) as raised:
        validate_batch(split_body(body, max_events=100))
    assert [(e.index, e.field) for e in raised.value.errors] == [(2, "timestamp"), (3, "id")]


def test_the_same_event_twice_in_one_batch_is_kept_once() -> None:
    event = workflow_event("initiated", str(uuid.uuid4()))
    other = workflow_event("streaming", event["span_id"])
    batch = validate_batch(split_body(orjson.dumps([event, other, event]), max_events=100))
    assert [e.event_id for e in batch.envelopes] == [uuid.UUID(event["id"]), uuid.UUID(other["id"])]
    assert batch.received_count == 3
    assert batch.repeated_in_batch_count == 1


def test_a_batch_over_the_event_limit_is_refused() -> None:
    events = execution(node_count=3)
    with pytest.raises(InvalidBatch, match="1 invalid") as raised:
        validate_batch(split_body(orjson.dumps(events), max_events=4))
    assert "at most 4 events" in raised.value.errors[0].reason


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(b"[" * 3000 + b"]" * 3000, "not valid JSON", id="deep-nesting"),
        pytest.param(
            b"[" + b'{"a": ' * 1100 + b"1" + b"}" * 1100 + b"]",
            "nest|not valid JSON",
            id="deep-objects",
        ),
        pytest.param(b'[{"id": "\\ud800"}]', "not valid JSON", id="lone-surrogate"),
        pytest.param(b'[{"n": 1e999}]', "not valid JSON", id="infinite-number"),
    ],
)
def test_bodies_orjson_cannot_read_are_refused_not_stored(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidBody, match=reason):
        split_body(body, max_events=100)


def test_an_event_orjson_can_read_is_split_however_deep() -> None:
    event = b'{"a": ' * 1000 + b"1" + b"}" * 1000
    [(value, raw)] = split_body(b"[" + event + b"]", max_events=100)
    assert raw == event
    assert isinstance(value, dict)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'[{"s": "}, {"}, {"t": "}]"}]', id="delimiters-in-strings"),
        pytest.param(b'[{"s": "' + b"}, {" * 40 + b'"}]', id="more-candidates-than-tries"),
        pytest.param(b'[{"s": "\\\\"}, {"q": "\\"}, "}]', id="escaped-quotes"),
        pytest.param(b'[{"a": {"b": {}}, "c": [{}]} , {}\n]', id="nested-ends"),
        pytest.param(b'[{"a": 1}, 2, {"b": 3}]', id="not-all-objects"),
        pytest.param(
            b'[{"big": 18446744073709551616, "small": -9223372036854775809, "u64": '
            b"18446744073709551615}]",
            id="integers-past-64-bits",
        ),
    ],
)
def test_the_fast_split_agrees_with_the_walk(body: bytes) -> None:
    assert split_body(body, max_events=100) == _split_body_slowly(body, max_events=100)


def test_objects_take_the_fast_split_and_other_bodies_the_walk() -> None:
    # The walk is the fallback, so every answer above would hold with the fast split off.
    assert _split_objects(b'[{"s": "}, {"}, {"t": "}]"}]', 100) == [
        ({"s": "}, {"}, b'{"s": "}, {"}'),
        ({"t": "}]"}, b'{"t": "}]"}'),
    ]
    assert _split_objects(b' {"k": 1}\n', 100) == [({"k": 1}, b'{"k": 1}')]
    assert _split_objects(orjson.dumps(execution(node_count=3)), 100) is not None
    assert _split_objects(b'[{"a": 1}, 2]', 100) is None
    assert _split_objects(b'[{"s": "' + b"}, {" * 40 + b'"}]', 100) is None
    assert _split_objects(b'[{"a": 1}, {"b": 2}]', 1) is None


def test_the_event_limit_is_checked_before_the_slow_walk() -> None:
    with pytest.raises(InvalidBatch) as raised:
        split_body(b"[" + b",".join([b"0"] * 101) + b"]", max_events=100)
    assert raised.value.errors[0].field == "body"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        json_values.map(orjson.dumps),
        st.lists(json_values, max_size=5).map(orjson.dumps),
        st.lists(
            st.fixed_dictionaries({"id": st.text(), "name": st.text(), "body": json_values}),
            max_size=3,
        ).map(orjson.dumps),
    )
)
def test_any_body_is_either_events_or_a_clean_refusal(body: bytes) -> None:
    try:
        batch = validate_batch(split_body(body, max_events=100))
    except (InvalidBody, InvalidBatch):
        return
    assert split_body(body, max_events=100) == _split_body_slowly(body, max_events=100)
    for envelope in batch.envelopes:
        assert isinstance(orjson.loads(envelope.raw), dict)


_whitespace = st.sampled_from(["", " ", "\n  ", "\t", "\r\n"])
_tricky_text = st.text(alphabet=st.sampled_from(list('},]{["\\ az\u00e9')), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(max_size=4) | _tricky_text, json_values | _tricky_text, max_size=3),
        max_size=4,
    ),
    st.lists(_whitespace, min_size=12, max_size=12),
)
def test_objects_split_as_sent_whatever_the_spacing(
    events: list[dict[str, object]], spaces: list[str]
) -> None:
    # Every gap JSON allows gets some whitespace; strings are full of `}`, `,` and `]`.
    encoded = [orjson.dumps(event) for event in events]
    gap = iter(spaces * 3)
    body = (next(gap) + "[" + next(gap)).encode()
    for index, raw in enumerate(encoded):
        separator = (next(gap) + "," + next(gap)).encode() if index else b""
        body += separator + raw
    body += (next(gap) + "]" + next(gap)).encode()
    assert split_body(body, max_events=100) == [(orjson.loads(raw), raw) for raw in encoded]
    assert split_body(body, max_events=100) == _split_body_slowly(body, max_events=100)


def test_an_integer_past_64_bits_is_refused_by_its_path_whichever_path_reads_the_body() -> None:
    # With more candidate ends than the fast split tries, the walk reads the body. It used to
    # read the integer as a Python int that orjson cannot write, and (the brackets in the string
    # making the nesting check look) refuse the event as "nested deeper than 128 levels".
    plain = workflow_event("initiated", str(uuid.uuid4()))
    plain["body"]["inputs"] = {"n": -1}
    for event, fast in ((plain, True), ({**plain, "s": "}, {" * 130}, False)):
        body = orjson.dumps([event]).replace(b'"n":-1', b'"n":' + str(2**70).encode())
        assert (_split_objects(body, 100) is not None) is fast
        with pytest.raises(InvalidBatch) as refused:
            validate_batch(split_body(body, max_events=100))
        assert [e.field for e in refused.value.errors] == ["body.inputs.n"]
