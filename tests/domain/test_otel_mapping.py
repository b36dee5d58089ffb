"""A span's log records, written once by the mapping, are what ingest would make of its events:
the same bytes, the same envelopes, the same refusals."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.envelope import Envelope, validate_event
from domain.errors import FieldError
from domain.otel_mapping import OtelSpan, SpanEvent, span_events, span_records

START_NS = 1_765_000_000_123_456_789


def _span(attributes: dict[str, Any], **fields: Any) -> OtelSpan:
    values: dict[str, Any] = {
        "trace_id": bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736"),
        "span_id": bytes.fromhex("00f067aa0ba902b7"),
        "parent_span_id": b"",
        "name": "answer",
        "start_ns": START_NS,
        "end_ns": START_NS + 2_000_000_000,
        "attributes": attributes,
        **fields,
    }
    return OtelSpan(**values)


def _as_ingest_judges(span: OtelSpan) -> list[Envelope] | FieldError:
    """Each event of `span_events` written by orjson and read back as a received event."""
    envelopes: list[Envelope] = []
    for index, event in enumerate(span_events(span)):
        try:
            raw = orjson.dumps(event)
        except orjson.JSONEncodeError as error:
            return FieldError(index, "event", f"cannot be written as JSON: {error}")
        result = validate_event(orjson.loads(raw), raw, index)
        if isinstance(result, list):
            return result[0]
        envelopes.append(result)
    return envelopes


@pytest.mark.parametrize(
    "span",
    [
        pytest.param(_span({"input.value": "q", "output.value": "a"}), id="root"),
        pytest.param(
            _span(
                {"input.value": '{"q": [1, 2.5, null]}', "input.mime_type": "application/json"},
                parent_span_id=bytes.fromhex("00f067aa0ba902b8"),
                events=[SpanEvent("token", START_NS + 5, {"i": 1}), SpanEvent("late", 0)],
            ),
            id="child-with-events",
        ),
        pytest.param(
            _span(
                {"gen_ai.usage.input_tokens": 12, "gen_ai.usage.cost": 0.25},
                status_code="STATUS_CODE_ERROR",
                events=[SpanEvent("exception", START_NS + 9, {"exception.message": "no"})],
            ),
            id="rejected-with-usage",
        ),
        pytest.param(_span({"x": float("nan"), "y": [float("inf")], "z": 2**63 - 1}), id="floats"),
        pytest.param(_span({}, links=[{"trace_id": "ab", "span_id": "cd"}]), id="links"),
    ],
)
def test_a_spans_records_are_its_events_as_ingest_reads_them(span: OtelSpan) -> None:
    records = span_records(span)
    assert isinstance(records, list)
    assert records == _as_ingest_judges(span)
    assert [r.raw for r in records] == [orjson.dumps(e) for e in span_events(span)]


@pytest.mark.parametrize("count", [float("inf"), float("-inf"), float("nan")])
def test_a_token_count_that_is_not_finite_counts_nothing(count: float) -> None:
    span = _span({"gen_ai.usage.input_tokens": count, "llm.token_count.prompt": 7})
    records = span_records(span)
    assert isinstance(records, list)
    end = next(e for e in span_events(span) if e["name"] == "node.execution.fulfilled")
    assert end["body"]["usage_result"]["usage"][0]["ml_model_usage"] == {"input_token_count": 7}
    assert records == _as_ingest_judges(span)


@pytest.mark.parametrize(
    ("attributes", "field", "reason"),
    [
        pytest.param(
            {"input.value": "[" * 200 + "]" * 200, "input.mime_type": "application/json"},
            "body",
            "nests objects and arrays deeper than 128 levels in the event",
            id="nested-too-deep",
        ),
        pytest.param(
            {"input.value": "[" * 300 + "]" * 300, "input.mime_type": "application/json"},
            "event",
            "cannot be written as JSON: Recursion limit reached",
            id="nested-past-what-orjson-writes",
        ),
        pytest.param(
            {"gen_ai.usage.input_tokens": -3},
            "body.usage_result.usage[0].ml_model_usage.input_token_count",
            "must be a whole number from 0 to 9007199254740991, or null",
            id="negative-tokens",
        ),
        pytest.param(
            {"gen_ai.usage.output_tokens": 2**62},
            "body.usage_result.usage[0].ml_model_usage.output_token_count",
            "must be a whole number from 0 to 9007199254740991, or null",
            id="tokens-past-2**53",
        ),
        pytest.param(
            {"gen_ai.usage.input_tokens": 1, "llm.cost.total": float("nan")},
            "body.usage_result.cost[0].value",
            "must be a number",
            id="cost-not-a-number",
        ),
        pytest.param(
            {"note": "\ud800"},
            "event",
            "cannot be written as JSON: str is not valid UTF-8: surrogates not allowed",
            id="lone-surrogate",
        ),
    ],
)
def test_what_a_sender_controls_is_refused_as_ingest_refuses_it(
    attributes: dict[str, Any], field: str, reason: str
) -> None:
    refused = span_records(_span(attributes))
    assert isinstance(refused, FieldError)
    assert (refused.field, refused.reason) == (field, reason)
    expected = _as_ingest_judges(_span(attributes))
    assert isinstance(expected, FieldError)
    assert (expected.field, expected.reason) == (field, reason)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
_FINITE = st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
_ATTRIBUTES = st.dictionaries(
    st.sampled_from(["input.value", "output.value", "gen_ai.response.model", "gen_ai.prompt"]),
    _JSON | st.just('{"a": [1, {"b": 2}]}'),
    max_size=4,
) | st.fixed_dictionaries(
    {},
    optional={
        "input.value": _JSON | st.just("[" * 130 + "]" * 130),
        "input.mime_type": st.just("application/json"),
        "gen_ai.usage.input_tokens": _FINITE | st.booleans() | st.floats(),
        "gen_ai.usage.output_tokens": _FINITE | st.floats(),
        "llm.cost.total": st.floats() | st.integers(-(2**63), 2**63 - 1),
        "other": _JSON,
    },
)


@settings(max_examples=200, deadline=None)
@given(
    attributes=_ATTRIBUTES,
    child=st.booleans(),
    status=st.sampled_from(["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"]),
    events=st.lists(
        st.builds(
            SpanEvent,
            st.sampled_from(["exception", "log"]),
            st.sampled_from([0, START_NS + 1]),
            st.dictionaries(st.sampled_from(["exception.message", "k"]), _JSON, max_size=2),
        ),
        max_size=2,
    ),
)
def test_any_spans_records_match_what_ingest_makes_of_its_events(
    attributes: dict[str, Any], child: bool, status: str, events: list[SpanEvent]
) -> None:
    span = _span(
        attributes,
        parent_span_id=uuid.uuid4().bytes[:8] if child else b"",
        status_code=status,
        events=events,
    )
    assert span_records(span) == _as_ingest_judges(span)
