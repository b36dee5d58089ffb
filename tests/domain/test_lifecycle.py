"""The execution lifecycle: one outcome, order independence, late and contradictory events."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.envelope import Envelope, validate_event
from domain.lifecycle import ExecutionStatus, ExecutionSummary, fold, merge
from tests.events import execution, node_event, workflow_event


def _envelopes(events: list[dict[str, Any]]) -> list[Envelope]:
    result = []
    for index, event in enumerate(events):
        envelope = validate_event(event, orjson.dumps(event), index)
        assert isinstance(envelope, Envelope)
        result.append(envelope)
    return result


def _status(execution_id: str, events: list[dict[str, Any]]) -> ExecutionStatus:
    return fold(uuid.UUID(execution_id), _envelopes(events)).status


def test_statuses_follow_the_root_workflow() -> None:
    ex = str(uuid.uuid4())
    node = str(uuid.uuid4())
    assert ExecutionSummary(uuid.UUID(ex)).status is ExecutionStatus.PENDING
    assert _status(ex, [workflow_event("initiated", ex)]) is ExecutionStatus.INITIATED
    assert _status(ex, [node_event("initiated", ex, node, 5)]) is ExecutionStatus.INITIATED
    assert (
        _status(ex, [workflow_event("initiated", ex), workflow_event("streaming", ex, 3)])
        is ExecutionStatus.STREAMING
    )
    assert (
        _status(ex, [workflow_event("initiated", ex), workflow_event("fulfilled", ex, 9)])
        is ExecutionStatus.FULFILLED
    )
    assert (
        _status(ex, [workflow_event("initiated", ex), workflow_event("rejected", ex, 9)])
        is ExecutionStatus.REJECTED
    )


def test_a_late_initiated_after_fulfilled_keeps_the_outcome() -> None:
    ex = str(uuid.uuid4())
    events = [workflow_event("fulfilled", ex, 50), workflow_event("initiated", ex, 0)]
    summary = fold(uuid.UUID(ex), _envelopes(events))
    assert summary.status is ExecutionStatus.FULFILLED
    assert summary.started_at is not None
    assert summary.last_event_at is not None
    assert summary.started_at < summary.last_event_at


def test_a_node_event_after_the_outcome_changes_nothing() -> None:
    ex = str(uuid.uuid4())
    events = [
        workflow_event("initiated", ex),
        workflow_event("rejected", ex, 10),
        node_event("fulfilled", ex, str(uuid.uuid4()), 20),
    ]
    assert _status(ex, events) is ExecutionStatus.REJECTED


def test_contradictory_outcomes_keep_the_earliest_and_are_flagged() -> None:
    ex = str(uuid.uuid4())
    events = [workflow_event("rejected", ex, 30), workflow_event("fulfilled", ex, 20)]
    summary = fold(uuid.UUID(ex), _envelopes(events))
    assert summary.status is ExecutionStatus.FULFILLED
    assert summary.has_conflicting_outcomes


def test_a_failed_sub_workflow_does_not_end_its_execution() -> None:
    ex, sub = str(uuid.uuid4()), str(uuid.uuid4())
    rejected_sub = workflow_event("rejected", sub, 10)
    rejected_sub["parent"] = {
        "type": "WORKFLOW_NODE",
        "span_id": str(uuid.uuid4()),
        "parent": node_event("x", ex, "y")["parent"],
    }
    assert _status(ex, [workflow_event("initiated", ex), rejected_sub]) is ExecutionStatus.INITIATED


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_order_and_any_repetition_give_the_same_summary(data: st.DataObject) -> None:
    events = execution(node_count=3)
    ex = events[0]["span_id"]
    events.append(workflow_event("rejected", ex, 999))  # a contradictory, later outcome
    envelopes = _envelopes(events)
    shuffled = data.draw(st.permutations(envelopes))
    repeated = data.draw(st.lists(st.sampled_from(envelopes), max_size=10))
    expected = fold(uuid.UUID(ex), envelopes)
    assert fold(uuid.UUID(ex), [*shuffled, *repeated]) == expected
    assert expected.status is ExecutionStatus.FULFILLED


def test_merge_is_commutative_and_idempotent() -> None:
    events = execution(node_count=2)
    ex = uuid.UUID(events[0]["span_id"])
    envelopes = _envelopes(events)
    a, b = fold(ex, envelopes[:3]), fold(ex, envelopes[3:])
    assert merge(a, b) == merge(b, a) == merge(merge(a, b), b)
