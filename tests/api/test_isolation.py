"""Every route, asked by another workspace, by a revoked key and by no key, gives nothing away.

The cases are keyed by the app's own route table: a route added without a case here fails
`test_every_route_has_an_isolation_case`, so isolation is decided for each new endpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from api.app import create_app, open_ledger
from api.settings import Settings
from domain.keys import KeyRing
from tests.api.runtime_support import STANDARD, deployed_server, string
from tests.events import execution, workflow_event
from tests.servers import RunningServer, create_key, post_events, vellum_client

OTHER = "intruder"


@dataclass
class World:
    """Workspace A's things, and the keys that must not reach them."""

    server: RunningServer
    ingested: str  # an execution A sent events of
    run: str  # an execution A's deployment ran
    external_id: str
    deployment_id: str
    other_key: str
    revoked_key: str
    number: int  # the ingested execution's number, as A sees it
    payload_path: str  # a signed link to a value of A's ingested execution
    texts: list[str] = field(default_factory=list)  # strings only A's data contains


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, clickhouse_url: str) -> Iterator[World]:
    data = tmp_path_factory.mktemp("isolation")
    env = {
        "RUNLEDGER_DATA_DIR": str(data / "data"),
        "RUNLEDGER_CLICKHOUSE_URL": clickhouse_url,
        "RUNLEDGER_CLICKHOUSE_DATABASE": f"rl_iso_{uuid.uuid4().hex[:8]}",
    }
    with deployed_server(env, STANDARD) as server:
        secret = f"secret-{uuid.uuid4().hex}"
        events = execution(node_count=2)
        events[-1]["body"]["outputs"] = {"answer": secret}
        post_events(server, events)
        external_id = f"ext-{uuid.uuid4().hex}"
        with vellum_client(server) as client:
            ran = client.execute_workflow(
                workflow_deployment_name="summarize",
                inputs=[string("text", f"{secret} of the run")],
                external_id=external_id,
            )
            deployment_id = client.workflow_deployments.retrieve("summarize").id
        number, payload_path = _number_and_link(server, events[0]["span_id"])
        ledger = open_ledger(Settings.from_env(server.env))
        try:
            keys = KeyRing(ledger)
            revoked, info = keys.create("tests")
            keys.revoke(info.shown)
        finally:
            ledger.close()
        yield World(
            server=server,
            ingested=events[0]["span_id"],
            run=ran.execution_id,
            external_id=external_id,
            deployment_id=deployment_id,
            other_key=create_key(server.env, OTHER),
            revoked_key=revoked,
            number=number,
            payload_path=payload_path,
            texts=[secret, external_id, events[0]["span_id"], ran.execution_id],
        )


def _number_and_link(server: RunningServer, execution_id: str) -> tuple[int, str]:
    """The execution's number and the path of its first step's output link, as A reads them."""
    detail = httpx.get(
        f"{server.base_url}/v1/workflow-executions/{execution_id}/detail",
        headers=server.headers(),
        timeout=60,
    ).json()
    status = httpx.get(
        f"{server.base_url}/api/v1/workflows/executions/{detail['number']}",
        headers=server.headers(),
        timeout=60,
    ).json()
    link = next(step["output_url"] for step in status["steps"].values() if "output_url" in step)
    return detail["number"], link.removeprefix(server.base_url)


@dataclass(frozen=True)
class Case:
    """How to call one route about A's things, and what a stranger may get."""

    request: Callable[[World], tuple[str, dict[str, Any]]]  # path, httpx request arguments
    stranger: tuple[int, ...] = (404,)  # statuses another workspace's key may get
    keyless: tuple[int, ...] = (401,)  # for no key and a revoked key
    public: bool = False  # answers without a key by design: must still show nothing of A's
    key_header: str = "X-API-KEY"  # where the route takes its key


def _execute_body(world: World) -> dict[str, Any]:
    return {
        "workflow_deployment_name": "summarize",
        "inputs": [{"type": "STRING", "name": "text", "value": "x"}],
        "external_id": world.external_id,
    }


def _otlp_request(world: World) -> dict[str, Any]:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "stranger",
        "startTimeUnixNano": "1765000000000000000",
        "endTimeUnixNano": "1765000001000000000",
    }
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def _actuals_body(world: World) -> dict[str, Any]:
    return {"execution_id": world.run, "actuals": [{"output_key": "summary", "quality": 1.0}]}


CASES: dict[tuple[str, str], Case] = {
    ("GET", "/healthz"): Case(lambda w: ("/healthz", {}), public=True),
    ("GET", "/openapi.json"): Case(lambda w: ("/openapi.json", {}), public=True),
    ("GET", "/docs"): Case(lambda w: ("/docs", {}), public=True),
    ("GET", "/readyz"): Case(lambda w: ("/readyz", {}), public=True),
    ("GET", "/v1/workflow-executions/{execution_id}/events"): Case(
        lambda w: (f"/v1/workflow-executions/{w.ingested}/events", {})
    ),
    # The chain's head tells how much every workspace wrote: the admin token only.
    ("GET", "/v1/audit/checkpoint"): Case(lambda w: ("/v1/audit/checkpoint", {}), stranger=(401,)),
    # Every workspace's figures together: a workspace key never opens them.
    ("GET", "/metrics"): Case(lambda w: ("/metrics", {}), stranger=(401,)),
    ("GET", "/admin/proof"): Case(
        lambda w: ("/admin/proof", {"params": {"challenge": "c" * 32}}), public=True
    ),
    # Operators' routes: no workspace key opens them.
    ("GET", "/admin/replay"): Case(lambda w: ("/admin/replay", {}), stranger=(401,)),
    ("POST", "/admin/replay"): Case(lambda w: ("/admin/replay", {}), stranger=(401,)),
    ("POST", "/admin/verify"): Case(lambda w: ("/admin/verify", {}), stranger=(401,)),
    # A stranger's events are the stranger's own, even with A's ids: checked afterwards.
    ("POST", "/monitoring/v1/events"): Case(
        lambda w: (
            "/monitoring/v1/events",
            {"content": orjson.dumps([workflow_event("rejected", w.ingested, 5)])},
        ),
        stranger=(200,),
    ),
    # Spans a stranger exports are the stranger's own, even in a trace of A's: an OTLP
    # execution's id is its trace's, so the same trace in two workspaces is two executions.
    ("POST", "/v1/traces"): Case(
        lambda w: (
            "/v1/traces",
            {
                "content": orjson.dumps(_otlp_request(w)),
                "headers": {"content-type": "application/json"},
            },
        ),
        stranger=(200,),
    ),
    ("GET", "/v1/workflows/executions/{execution_id}/status"): Case(
        lambda w: (f"/v1/workflows/executions/{w.ingested}/status", {})
    ),
    ("GET", "/v1/workflow-executions/{execution_id}/detail"): Case(
        lambda w: (f"/v1/workflow-executions/{w.run}/detail", {})
    ),
    ("GET", "/v1/workflows/{span_id}/state"): Case(lambda w: (f"/v1/workflows/{w.run}/state", {})),
    ("POST", "/v1/workflows/executions/{execution_id}/cancel"): Case(
        lambda w: (f"/v1/workflows/executions/{w.run}/cancel", {})
    ),
    ("POST", "/v1/submit-workflow-execution-actuals"): Case(
        lambda w: ("/v1/submit-workflow-execution-actuals", {"json": _actuals_body(w)})
    ),
    # Lists answer the stranger's own (none): checked for A's names below.
    ("GET", "/v1/workflow-deployments"): Case(
        lambda w: ("/v1/workflow-deployments", {}), stranger=(200,)
    ),
    ("GET", "/v1/workflow-deployments/{id_or_name}"): Case(
        lambda w: (f"/v1/workflow-deployments/{w.deployment_id}", {})
    ),
    # Lists answer a stranger 200 with nothing of A's: the texts check below reads every item.
    ("GET", "/v1/workflow-executions"): Case(
        lambda w: (
            "/v1/workflow-executions",
            {"params": {"q": f"external_id = '{w.external_id}'"}},
        ),
        stranger=(200,),
    ),
    ("GET", "/v1/workflow-executions/count"): Case(
        lambda w: ("/v1/workflow-executions/count", {"params": {"group_by": "workflow"}}),
        stranger=(200,),
    ),
    ("GET", "/v1/workflow-executions/metrics"): Case(
        lambda w: ("/v1/workflow-executions/metrics", {"params": {"group_by": "workflow"}}),
        stranger=(200,),
    ),
    ("GET", "/v1/workflow-deployments/{id}/execution-events"): Case(
        lambda w: (f"/v1/workflow-deployments/{w.deployment_id}/execution-events", {})
    ),
    ("GET", "/v1/workflow-deployments/{id}/execution-events/{execution_id}"): Case(
        lambda w: (f"/v1/workflow-deployments/{w.deployment_id}/execution-events/{w.run}", {})
    ),
    # Velt's and Datalab's reads: another workspace's execution, or number, is not found.
    ("POST", "/v2/workflow/executions/get"): Case(
        lambda w: ("/v2/workflow/executions/get", {"json": {"data": {"executionId": w.run}}}),
        key_header="x-velt-api-key",
    ),
    ("GET", "/api/v1/workflows/executions/{execution_id}"): Case(
        lambda w: (f"/api/v1/workflows/executions/{w.number}", {})
    ),
    # A link is its own credential (no key needed, by design: it names a value of no secret
    # here); another workspace's key is refused, and a revoked key is no key.
    ("GET", "/v1/payloads/{token}"): Case(
        lambda w: (w.payload_path, {}), stranger=(403,), keyless=(200, 401)
    ),
    ("POST", "/v1/execute-workflow"): Case(
        lambda w: ("/v1/execute-workflow", {"json": _execute_body(w)})
    ),
    ("POST", "/v1/execute-workflow-async"): Case(
        lambda w: ("/v1/execute-workflow-async", {"json": _execute_body(w)})
    ),
    ("POST", "/v1/execute-workflow-stream"): Case(
        lambda w: ("/v1/execute-workflow-stream", {"json": _execute_body(w)})
    ),
    ("POST", "/v1/workflow-deployments/{id_or_name}/execute-stream"): Case(
        lambda w: (
            "/v1/workflow-deployments/summarize/execute-stream",
            {"json": {"inputs": {"text": "x"}, "external_id": w.external_id}},
        )
    ),
}


def _routes() -> set[tuple[str, str]]:
    app = create_app({})  # the route table only; nothing is opened until the app starts
    found = set()
    for route in app.routes:
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":  # served by every GET route alike
                found.add((method, getattr(route, "path", "")))
    return found


def test_every_route_has_an_isolation_case() -> None:
    routes = _routes()
    assert routes - CASES.keys() == set(), "routes without an isolation case"
    assert CASES.keys() - routes == set(), "cases of routes that no longer exist"


def _call(world: World, route: tuple[str, str], key: str | None) -> httpx.Response:
    case = CASES[route]
    path, arguments = case.request(world)
    headers = {**arguments.pop("headers", {}), **({case.key_header: key} if key else {})}
    return httpx.request(
        route[0], world.server.base_url + path, headers=headers, timeout=60, **arguments
    )


def _shows_nothing_of(world: World, response: httpx.Response) -> None:
    sent = str(response.request.url) + response.request.content.decode()
    for text in world.texts:
        if text not in sent:  # an answer may repeat what the caller sent ("no execution X")
            assert text not in response.text, f"{response.request.url} showed {text!r}"


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_a_stranger_gets_nothing_of_another_workspace(world: World, route: tuple[str, str]) -> None:
    case = CASES[route]
    for key, allowed in (
        (world.other_key, case.stranger),
        (world.revoked_key, case.keyless),
        (None, case.keyless),
    ):
        response = _call(world, route, key)
        if case.public:
            assert response.status_code < 500
        else:
            assert response.status_code in allowed, (key, response.status_code, response.text)
        _shows_nothing_of(world, response)


def test_what_strangers_sent_left_the_workspace_untouched(world: World) -> None:
    # Runs after the per-route cases in this module's order: the stranger's rejection of A's
    # execution id, cancels, actuals and runs by A's external id changed nothing of A's.
    with vellum_client(world.server) as client:
        status = client.workflows.workflow_execution_status(world.ingested)
        assert status.status == "FULFILLED"
        run = client.workflows.workflow_execution_status(world.run)
        assert run.status == "FULFILLED"
        assert "actuals" not in (run.model_extra or {})
    stranger = RunningServer(world.server.base_url, world.other_key, world.server.env)
    with vellum_client(stranger) as client:
        assert [d.name for d in client.workflow_deployments.list().results or []] == []
        listed = httpx.get(
            f"{world.server.base_url}/v1/workflow-executions",
            headers={"X-API-KEY": world.other_key},
            timeout=60,
        )
        # Only the trace the stranger exported itself (the `POST /v1/traces` case).
        assert [item["workflow"] for item in listed.json()["results"]] == ["stranger"]
