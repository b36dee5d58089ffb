"""Reads of what older versions accepted: a value the answer cannot hold is named, never a 500.

Each case logs events the way an older Runledger did, straight into the log past today's
ingest checks, then reads the execution with the official client's models.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from vellum.client.types import (
    CheckWorkflowExecutionStatusResponse,
    WorkflowExecutionDetail,
    WorkflowExecutionUsageCalculationFulfilledBody,
)

from api.app import open_ledger
from api.settings import Settings
from domain.envelope import stored_envelope, validate_event
from domain.keys import KeyRing
from tests.events import Event, node_event, workflow_event
from tests.servers import position_token, server_in_thread

Legacy = Callable[[str], list[bytes]]


def _raw(event: Event) -> bytes:
    return orjson.dumps(event)


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def _run(execution_id: str, *, fulfilled: Event | None = None) -> list[Event]:
    return [workflow_event("initiated", execution_id, 0), fulfilled or _done(execution_id)]


def _done(execution_id: str) -> Event:
    event = workflow_event("fulfilled", execution_id, 50)
    event["body"]["outputs"] = {"result": "ok"}
    return event


def _usage_broken(execution_id: str) -> list[bytes]:
    node = node_event("fulfilled", execution_id, str(uuid.uuid4()), 10)
    node["body"]["usage_result"] = {"usage": 5, "cost": []}
    fine = node_event("fulfilled", execution_id, str(uuid.uuid4()), 20)
    fine["body"]["usage_result"] = {"usage": [], "cost": [{"value": 0.5, "unit": "USD"}]}
    return [_raw(e) for e in [*_run(execution_id), node, fine]]


def _cost_overflows(execution_id: str) -> list[bytes]:
    nodes = []
    for offset in (10, 20):
        node = node_event("fulfilled", execution_id, str(uuid.uuid4()), offset)
        node["body"]["usage_result"] = {"usage": [], "cost": [{"value": 1e308, "unit": "USD"}]}
        nodes.append(node)
    return [_raw(e) for e in [*_run(execution_id), *nodes]]


def _outputs_a_string(execution_id: str) -> list[bytes]:
    done = _done(execution_id)
    done["body"]["outputs"] = "just text"
    return [_raw(e) for e in _run(execution_id, fulfilled=done)]


def _outputs_too_deep(execution_id: str) -> list[bytes]:
    done = _done(execution_id)
    done["body"]["outputs"] = {"result": _deep(245)}
    return [_raw(e) for e in _run(execution_id, fulfilled=done)]


def _error_a_string(execution_id: str) -> list[bytes]:
    rejected = workflow_event("rejected", execution_id, 50)
    rejected["body"]["error"] = "it broke"
    return [_raw(e) for e in [workflow_event("initiated", execution_id, 0), rejected]]


CASES: dict[str, tuple[Legacy, set[str], set[str]]] = {
    # name: (events, fields named by status, fields named by detail)
    "usage-of-the-wrong-shape": (_usage_broken, set(), {"body.usage_result.usage"}),
    "costs-that-sum-past-a-float": (_cost_overflows, set(), {"body.usage_result.cost[0].value"}),
    "outputs-a-string": (_outputs_a_string, {"outputs"}, {"outputs"}),
    "outputs-nested-past-a-writer": (_outputs_too_deep, {"outputs"}, {"outputs"}),
    "error-a-string": (_error_a_string, {"error"}, {"error"}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_value_older_versions_accepted_is_named_not_a_500(
    sqlite_env: dict[str, str], case: str
) -> None:
    legacy, status_fields, detail_fields = CASES[case]
    execution_id = str(uuid.uuid4())
    raws = legacy(execution_id)
    assert any(isinstance(validate_event(orjson.loads(r), r, 0), list) for r in raws), (
        "today's ingest would refuse this case"
    )
    ledger = open_ledger(Settings.from_env(sqlite_env))
    try:
        workspace = KeyRing(ledger).create("tests")[1].workspace
        envelopes = [stored_envelope(orjson.loads(raw), raw) for raw in raws]
        ledger.append(workspace.id, envelopes, datetime.now(UTC))
    finally:
        ledger.close()

    with contextlib.ExitStack() as stack:
        server = stack.enter_context(server_in_thread(sqlite_env))  # a key of "tests" too
        http = stack.enter_context(
            httpx.Client(base_url=server.base_url, headers=server.headers(), timeout=30)
        )
        wait = {"min_log_position": position_token(sqlite_env)}
        status = http.get(f"/v1/workflows/executions/{execution_id}/status", params=wait)
        assert status.status_code == 200, status.text
        parsed_status = CheckWorkflowExecutionStatusResponse.model_validate(status.json())
        named = {found["field"] for found in status.json().get("unreadable", [])}
        assert named == status_fields
        assert parsed_status.execution_id == execution_id

        detail = http.get(f"/v1/workflow-executions/{execution_id}/detail")
        assert detail.status_code == 200, detail.text
        # The spans' events are these tests' hand-made events, which leave out body fields the
        # client's event models require: the header and each span's usage are checked here.
        WorkflowExecutionDetail.model_validate({**detail.json(), "spans": []})
        for span in detail.json()["spans"]:
            if span["usage_result"] is not None:
                WorkflowExecutionUsageCalculationFulfilledBody.model_validate(span["usage_result"])
        named = {found["field"] for found in detail.json().get("unreadable", [])}
        assert named == detail_fields
