"""Vellum's list of a deployment's executions and its deployments' pages, through the official
client (vellum-ai, unmodified), on both logs: runs the runtime made and ingested executions
whose parent context names the deployment, never another deployment's or workspace's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from vellum import Vellum
from vellum.client.core.api_error import ApiError

from tests.api.runtime_support import STANDARD, register, string
from tests.executions import Deployed, ingested
from tests.servers import (
    RunningServer,
    create_key,
    post_events,
    server_in_thread,
    vellum_client,
)

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def deployment_history(module_log_env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Three runs of `summarize` (one rejected), two ingested executions naming it, one naming
    `shout`, and one of `summarize` in another workspace."""
    ids = register(module_log_env, STANDARD)
    with server_in_thread(module_log_env) as server, vellum_client(server) as client:
        summarize = UUID(ids["summarize"])
        runs = [
            client.execute_workflow(
                workflow_deployment_name="summarize",
                inputs=[string("text", text)],
                external_id=f"run-{n}",
            ).execution_id
            for n, text in enumerate(["a b c", "d e f g", "h"])
        ]
        under = Deployed("summarize", "LATEST", deployment_id=summarize)
        ours = [
            ingested(
                START + timedelta(minutes=n),
                "Summarize",
                ("FULFILLED", "REJECTED")[n],
                deployment=under,
                metadata={"n": n},
                usage=[("gpt-4o", 10, 5, 0.25)],
                inputs={"text": f"ingested {n}"},
            )
            for n in range(2)
        ]
        _, shout = ingested(START, "Shout", "FULFILLED", deployment=Deployed("shout"))
        hosted = [
            ingested(
                START + timedelta(hours=n), "Hosted", "FULFILLED", deployment=Deployed("hosted")
            )
            for n in range(2)
        ]
        other_key = create_key(server.env, "other")
        their_id, theirs = ingested(START, "Summarize", "FULFILLED", deployment=under)
        # The other workspace's first: our last token's position is past every event sent.
        post_events(server, theirs, key=other_key)
        post_events(server, shout)
        token = ""
        for _, events in [*ours, *hosted]:
            token = post_events(server, events)
        httpx.get(
            f"{server.base_url}/v1/workflow-executions",
            params={"min_log_position": token},
            headers=server.headers(),
        )
        yield {
            "server": server,
            "client": client,
            "summarize": str(summarize),
            "runs": set(runs),
            "ingested": {str(execution_id) for execution_id, _ in ours},
            "other_key": other_key,
            "hosted": [str(execution_id) for execution_id, _ in hosted],
            "theirs": str(their_id),
        }


def test_the_list_holds_the_deployments_runs_and_ingested_executions(
    deployment_history: dict[str, Any],
) -> None:
    client: Vellum = deployment_history["client"]
    everything = deployment_history["runs"] | deployment_history["ingested"]
    for ref in ("summarize", deployment_history["summarize"]):
        first = client.workflow_deployments.list_workflow_deployment_event_executions(
            ref, limit=2, offset=0
        )
        assert first.count == 5
        pages = [first.results]
        for offset in (2, 4):
            pages.append(
                client.workflow_deployments.list_workflow_deployment_event_executions(
                    ref, limit=2, offset=offset
                ).results
            )
        listed = [execution.span_id for page in pages for execution in page]
        assert sorted(listed) == sorted(everything)
        starts = [execution.start for page in pages for execution in page]
        assert starts == sorted(starts, reverse=True)


def test_a_slim_execution_carries_inputs_outputs_usage_and_context(
    deployment_history: dict[str, Any],
) -> None:
    client: Vellum = deployment_history["client"]
    results = client.workflow_deployments.list_workflow_deployment_event_executions(
        "summarize", limit=10
    ).results
    by_id = {execution.span_id: execution for execution in results}
    run = next(e for e in results if e.span_id in deployment_history["runs"] and e.end)
    assert ("text", "STRING") in [(i.name, i.type) for i in run.inputs]
    assert run.parent_context is not None
    assert run.parent_context.deployment_name == "summarize"
    assert run.metric_results == []
    ingested_ids = sorted(deployment_history["ingested"])
    fulfilled = next(by_id[i] for i in ingested_ids if by_id[i].outputs and by_id[i].error is None)
    assert [(o.name, o.value) for o in fulfilled.outputs] == [("answer", 42)]
    assert fulfilled.usage_results is not None
    (usage,) = fulfilled.usage_results
    assert usage.cost is not None
    assert usage.cost[0].value == 0.25
    rejected = next(by_id[i] for i in ingested_ids if by_id[i].error is not None)
    assert rejected.error is not None
    assert rejected.error.code == "PROVIDER_ERROR"


def test_filters_use_the_list_grammar(deployment_history: dict[str, Any]) -> None:
    client: Vellum = deployment_history["client"]
    rejected = client.workflow_deployments.list_workflow_deployment_event_executions(
        "summarize", filters="status = 'REJECTED'"
    )
    assert rejected.count == 1
    assert {e.span_id for e in rejected.results} <= deployment_history["ingested"]
    by_run = client.workflow_deployments.list_workflow_deployment_event_executions(
        "summarize", filters="external_id IN ('run-0', 'run-2')", ordering="started_at"
    )
    assert by_run.count == 2
    with pytest.raises(ApiError) as refused:
        client.workflow_deployments.list_workflow_deployment_event_executions(
            "summarize", filters="status = "
        )
    assert refused.value.status_code == 400
    assert "filters" in str(refused.value.body)


def test_one_execution_with_its_spans(deployment_history: dict[str, Any]) -> None:
    client: Vellum = deployment_history["client"]
    run = sorted(deployment_history["runs"])[0]
    read = client.workflow_deployments.workflow_deployment_event_execution(run, "summarize")
    assert read.span_id == run
    assert read.spans
    assert read.spans[0].span_id == run
    assert ("text", "STRING") in [(i.name, i.type) for i in read.inputs]


def test_another_deployments_or_workspaces_execution_is_not_found(
    deployment_history: dict[str, Any],
) -> None:
    client: Vellum = deployment_history["client"]
    run = sorted(deployment_history["runs"])[0]
    unknown_id = "00000000-0000-4000-8000-000000000000"
    for deployment, execution in (("shout", run), ("summarize", unknown_id)):
        with pytest.raises(ApiError) as missing:
            client.workflow_deployments.workflow_deployment_event_execution(execution, deployment)
        assert missing.value.status_code == 404
    server: RunningServer = deployment_history["server"]
    other = RunningServer(server.base_url, deployment_history["other_key"], server.env)
    with vellum_client(other) as theirs:
        # That workspace registered no `summarize`, but sent an execution naming it: it lists
        # that one, and nothing of ours.
        listed = theirs.workflow_deployments.list_workflow_deployment_event_executions("summarize")
        assert [e.span_id for e in listed.results] == [deployment_history["theirs"]]
        with pytest.raises(ApiError) as unknown:
            theirs.workflow_deployments.workflow_deployment_event_execution(run, "summarize")
        assert unknown.value.status_code == 404


def test_deployments_page_with_next_and_previous(deployment_history: dict[str, Any]) -> None:
    client: Vellum = deployment_history["client"]
    names: list[str] = []
    offset = 0
    while True:
        page = client.workflow_deployments.list(limit=4, offset=offset)
        assert page.count == len(STANDARD)
        names += [d.name for d in page.results or []]
        assert (page.previous is None) == (offset == 0)
        if page.next is None:
            break
        assert f"offset={offset + 4}" in page.next
        offset += 4
    assert names == [r.name for r in STANDARD]
    by_name = client.workflow_deployments.list(ordering="-name", limit=100)
    assert [d.name for d in by_name.results or []] == sorted(names, reverse=True)
    archived = client.workflow_deployments.list(status="ARCHIVED")
    assert (archived.count, archived.results) == (0, [])
    with pytest.raises(ApiError) as refused:
        client.workflow_deployments.list(ordering="colour")
    assert refused.value.status_code == 400


def test_a_deployment_only_ingested_executions_name_is_listed_by_name_and_id(
    deployment_history: dict[str, Any],
) -> None:
    # A Vellum-hosted deployment whose runs send their events here: never registered.
    client: Vellum = deployment_history["client"]
    newest_first = list(reversed(deployment_history["hosted"]))
    hosted_id = str(Deployed("hosted").context(None, None)["deployment_id"])
    for ref in ("hosted", hosted_id):
        listed = client.workflow_deployments.list_workflow_deployment_event_executions(ref)
        assert listed.count == 2
        assert [e.span_id for e in listed.results] == newest_first
        one = client.workflow_deployments.workflow_deployment_event_execution(newest_first[0], ref)
        assert one.span_id == newest_first[0]
    with pytest.raises(ApiError) as missing:
        client.workflow_deployments.list_workflow_deployment_event_executions("never-heard-of")
    assert missing.value.status_code == 404
