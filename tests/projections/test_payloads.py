"""Splitting an event's large values out (projections/payloads.py), byte for byte."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.payloads import (
    STORED_VALUES,
    Marker,
    marker,
    parse_marker,
    replace_markers,
    split_event,
)

LIMIT = 64

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
_space = st.sampled_from(["", " ", "\n  ", "\t"])


@st.composite
def _events(draw: st.DrawFn) -> tuple[bytes, dict[str, bytes]]:
    """A sent event, spaced and escaped as a sender might, and the text of each body value."""
    names = draw(st.lists(st.sampled_from([*STORED_VALUES, "error", "other"]), unique=True))
    values: dict[str, bytes] = {}
    members = []
    for name in names:
        value = orjson.dumps(draw(_json), option=orjson.OPT_NON_STR_KEYS)
        if draw(st.booleans()):
            value = value.replace(b",", b" , ")
        values[name] = value
        members.append(b'"' + name.encode() + b'"' + draw(_space).encode() + b":" + value)
    sep = ("," + draw(_space)).encode()
    body = b"{" + sep.join(members) + b"}"
    raw = b'{"id": "e",' + draw(_space).encode() + b'"body" :' + body + b', "z": [1]}'
    return raw, values


# Generation is slow on a loaded machine (the suite runs beside servers); not the test's point.
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_events())
def test_a_split_event_with_its_values_put_back_is_the_event_as_sent(
    event: tuple[bytes, dict[str, bytes]],
) -> None:
    raw, values = event
    split = split_event(raw, 42, LIMIT)
    stored = dict(split.values)
    assert stored == {
        name: value
        for name, value in values.items()
        if name in STORED_VALUES and len(value) > LIMIT and len(raw) > LIMIT
    }
    assert replace_markers(split.raw, lambda found: stored[found.value]) == raw
    orjson.loads(split.raw)  # still JSON, for ClickHouse's views


def test_an_event_within_the_limit_is_not_parsed_or_copied() -> None:
    raw = b'{"body": {"outputs": "' + b"x" * 10 + b'"}}'
    assert split_event(raw, 1, LIMIT).raw is raw


def test_an_event_with_a_repeated_key_is_kept_whole() -> None:
    large = b'"' + b"x" * 100 + b'"'
    for raw in (
        b'{"body": {"outputs": ' + large + b', "outputs": 1}}',
        b'{"body": {"outputs": ' + large + b'}, "body": {}}',
    ):
        split = split_event(raw, 1, LIMIT)
        assert (split.raw, split.values) == (raw, [])


def test_a_marker_is_json_and_parses_back() -> None:
    text = marker(12, "state", 99)
    assert orjson.loads(text) == {
        "$runledger_payload": {"position": 12, "value": "state", "bytes": 99}
    }
    assert parse_marker(text) == Marker(12, "state", 99)
    assert parse_marker(text.encode()) == Marker(12, "state", 99)
    assert parse_marker('{"a": 1}') is None
