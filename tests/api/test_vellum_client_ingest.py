"""Events of real SDK workflow runs, posted through vellum-ai's own client, on each log backend.

The workflows run in-process with the Vellum Workflows SDK (tests/sdk_workflows.py); their
events go to the server the way a Vellum deployment would send them: parsed into the client's
`WorkflowEvent` models and posted with `client.events.create`, in batches and one alone.
"""

from __future__ import annotations

from collections import Counter
from uuid import UUID

import orjson
import pytest
from vellum import Vellum
from vellum.client.types import EventCreateResponse, WorkflowEvent

from api.app import open_ledger
from api.settings import Settings
from domain.log.port import LoggedEvent
from tests.sdk_workflows import SDK_WORKFLOWS, Event, root_execution, to_models
from tests.servers import RunningServer, vellum_client

BATCH_SIZE = 4

# How many workflow executions (root plus sub-workflows) one run of each workflow starts:
# guards against a workflow that silently stopped exercising the shape it is here for.
WORKFLOW_EXECUTIONS = {"linear": 1, "failing": 1, "parallel": 1, "nested": 2, "map": 21}
# How the root execution ends: a parallel run only fulfills when both branches ran at once.
OUTCOMES = {name: "workflow.execution.fulfilled" for name in WORKFLOW_EXECUTIONS} | {
    "failing": "workflow.execution.rejected"
}

WORKFLOWS = [pytest.param(name, id=name) for name in SDK_WORKFLOWS]


def _batches(models: list[WorkflowEvent]) -> list[WorkflowEvent | list[WorkflowEvent]]:
    """The first event alone (a bare object, not a list), then lists of BATCH_SIZE events."""
    rest = models[1:]
    return [models[0], *(rest[i : i + BATCH_SIZE] for i in range(0, len(rest), BATCH_SIZE))]


def _size(request: WorkflowEvent | list[WorkflowEvent]) -> int:
    return len(request) if isinstance(request, list) else 1


def _counts(response: EventCreateResponse) -> tuple[int, int, int]:
    """(count, accepted_count, duplicate_count): Vellum's field and Runledger's two extras."""
    extra = response.model_extra or {}
    return response.count, int(extra["accepted_count"]), int(extra["duplicate_count"])


def _post_all(
    client: Vellum, requests: list[WorkflowEvent | list[WorkflowEvent]]
) -> list[tuple[int, int, int]]:
    return [_counts(client.events.create(request=request)) for request in requests]


def _log(server: RunningServer) -> list[LoggedEvent]:
    ledger = open_ledger(Settings.from_env(server.env))
    try:
        return ledger.read(after=0, limit=100_000)
    finally:
        ledger.close()


def _run(name: str) -> list[Event]:
    """One run of the named workflow, checked to have the shape the tests rely on."""
    events = SDK_WORKFLOWS[name]()
    initiated = [e for e in events if e["name"] == "workflow.execution.initiated"]
    assert len(initiated) == WORKFLOW_EXECUTIONS[name]
    root = str(root_execution(events))
    assert [e["name"] for e in events if e["span_id"] == root][-1] == OUTCOMES[name]
    assert len({e["id"] for e in events}) == len(events)
    return events


def _logged_ids(log: list[LoggedEvent]) -> Counter[str]:
    return Counter(str(orjson.loads(e.raw)["id"]) for e in log)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_each_sdk_event_is_logged_once_under_itsroot_execution(
    server: RunningServer, name: str
) -> None:
    events = _run(name)
    requests = _batches(to_models(events))
    assert any(not isinstance(r, list) for r in requests)

    with vellum_client(server) as client:
        answers = _post_all(client, requests)

    assert answers == [(_size(r), _size(r), 0) for r in requests]
    log = _log(server)
    assert _logged_ids(log) == Counter({e["id"]: 1 for e in events})
    root = root_execution(events)
    assert {e.execution_id for e in log} == {root}
    # What the client sent, and the log kept, is what the SDK emitted, field for field.
    by_id = {e["id"]: e for e in events}
    for logged in log:
        sent = orjson.loads(logged.raw)
        assert sent == by_id[sent["id"]]
        assert logged.name == sent["name"]


def test_nested_workflow_events_carry_the_root_execution_not_the_subworkflows(
    server: RunningServer,
) -> None:
    events = _run("nested")
    root = root_execution(events)
    inner = {
        UUID(e["span_id"])
        for e in events
        if e["name"] == "workflow.execution.initiated" and UUID(e["span_id"]) != root
    }
    assert len(inner) == 1
    inner_ids = {
        e["id"]
        for e in events
        if UUID(e["span_id"]) in inner
        or (e["parent"] is not None and e["parent"].get("span_id") in {str(s) for s in inner})
    }
    assert len(inner_ids) >= 4  # the sub-workflow's own events and its two nodes' events

    with vellum_client(server) as client:
        _post_all(client, _batches(to_models(events)))

    logged = {str(orjson.loads(e.raw)["id"]): e.execution_id for e in _log(server)}
    assert {logged[event_id] for event_id in inner_ids} == {root}


def test_a_failing_run_logs_the_root_workflows_rejection(server: RunningServer) -> None:
    events = _run("failing")
    root = root_execution(events)

    with vellum_client(server) as client:
        _post_all(client, _batches(to_models(events)))

    rejected = [
        orjson.loads(e.raw)
        for e in _log(server)
        if e.name == "workflow.execution.rejected" and e.execution_id == root
    ]
    assert [UUID(r["span_id"]) for r in rejected] == [root]
    assert rejected[0]["body"]["error"]["code"] == "USER_DEFINED_ERROR"


@pytest.mark.parametrize("name", WORKFLOWS)
def test_redelivered_batches_change_nothing(server: RunningServer, name: str) -> None:
    events = _run(name)
    requests = _batches(to_models(events))
    with vellum_client(server) as client:
        _post_all(client, requests)
        before = _log(server)
        assert len(before) == len(events)

        answers = _post_all(client, requests)

    assert answers == [(_size(r), 0, _size(r)) for r in requests]
    assert _log(server) == before


@pytest.mark.parametrize("name", WORKFLOWS)
def test_a_run_sent_with_every_event_twice_in_one_request_is_stored_once(
    server: RunningServer, name: str
) -> None:
    events = _run(name)
    models = to_models(events)
    doubled = [model for model in models for _ in range(2)]

    with vellum_client(server) as client:
        answer = _counts(client.events.create(request=doubled))

    assert answer == (2 * len(events), len(events), len(events))
    log = _log(server)
    assert _logged_ids(log) == Counter({e["id"]: 1 for e in events})
    assert {e.execution_id for e in log} == {root_execution(events)}
