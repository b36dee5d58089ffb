"""deploy/grafana: every panel's and variable's SQL, expanded as Grafana's ClickHouse data source
expands it (tests/deploy/grafana_sql.py), runs against the projections of executions ingested
over HTTP, and answers what a fold of the sent events in Python says; and the provisioning
files name the data source the dashboards use.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import orjson
import pytest
import yaml

from domain.keys import workspace_id_for
from projections.clickhouse import connect
from projections.generations import Generations
from tests.conftest import fresh_clickhouse_env
from tests.deploy.grafana_sql import ALL, PanelTime, Value, expand
from tests.executions import Deployed, Event, ingested, listed_row
from tests.servers import (
    TEST_ADMIN_TOKEN,
    RunningServer,
    create_key,
    post_visible,
    server_in_thread,
)

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARDS = {
    name: orjson.loads((GRAFANA / "dashboards" / f"{name}.json").read_bytes())
    for name in ("overview", "execution")
}

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PANEL_TIME = PanelTime(START, START + timedelta(hours=3), timedelta(hours=1))
WORKFLOWS = ("summarise", "classify", "translate")

# The agent's three LLM spans: two models by tokens, one without a model, two without tokens.
AGENT_USAGE: list[dict[str, Any]] = [
    {
        "usage": [
            {
                "ml_model_name": "gpt-4o",
                "ml_model_usage": {"input_token_count": 30, "output_token_count": 10},
            },
            {
                "ml_model_name": "claude-sonnet-4",
                "ml_model_usage": {"input_token_count": 10, "output_token_count": 0},
            },
        ],
        "cost": [{"value": 0.08, "unit": "USD"}],
    },
    {"usage": [], "cost": [{"value": 0.5, "unit": "USD"}]},
    {
        "usage": [
            {"ml_model_name": "gpt-4o", "ml_model_usage": {}},
            {"ml_model_name": "gpt-4o-mini", "ml_model_usage": {"input_token_count": 0}},
        ],
        "cost": [{"value": 0.3, "unit": "USD"}],
    },
]


@dataclass(frozen=True)
class ModelUse:
    """One model's part of one span's usage, by the rule model_usage.sql states."""

    span_id: UUID
    model: str
    input_tokens: int
    output_tokens: int
    cost: float


@dataclass(frozen=True)
class Sent:
    """One execution as sent, and what the list and the views must say of it."""

    events: list[Event]
    row: dict[str, Any]
    uses: list[ModelUse]

    @property
    def input_tokens(self) -> int:
        return sum(use.input_tokens for use in self.uses)

    @property
    def output_tokens(self) -> int:
        return sum(use.output_tokens for use in self.uses)


def model_uses(events: list[Event]) -> list[ModelUse]:
    """Each span's usage split per model: tokens as reported, the span's cost in proportion to
    each model's tokens (evenly without tokens; under '' without a model)."""
    uses = []
    for event in events:
        result = event["body"].get("usage_result")
        if not result:
            continue
        cost = sum(price["value"] for price in result["cost"])
        entries = [
            (
                entry["ml_model_name"],
                entry["ml_model_usage"].get("input_token_count", 0),
                entry["ml_model_usage"].get("output_token_count", 0),
            )
            for entry in result["usage"]
        ] or [("", 0, 0)]
        tokens = sum(i + o for _, i, o in entries)
        for model, tokens_in, tokens_out in entries:
            share = (tokens_in + tokens_out) / tokens if tokens else 1 / len(entries)
            uses.append(
                ModelUse(UUID(event["span_id"]), model, tokens_in, tokens_out, cost * share)
            )
    return uses


def history() -> list[list[Event]]:
    """Executions of three workflows every 3 minutes (some past the panels' range), fulfilled,
    rejected and running, with durations that differ (so each percentile is its own value) and
    LLM usage that varies, and the agent's execution (`agent_execution`)."""
    executions = []
    for n in range(70):
        usage = (
            [("gpt-4o", 100 + n, 10 + n, 0.01 * (n + 1))]
            if n % 2 == 0
            else [("claude-sonnet-4", 50 + n, 5, 0.002 * n)]
        )
        if n % 5 == 0:
            usage.append(("gpt-4o-mini", 7, 3, 0.0005))
        _, events = ingested(
            START + timedelta(minutes=3 * n, seconds=n % 3),
            WORKFLOWS[n % 3],
            ("FULFILLED", "REJECTED", "FULFILLED", None)[n % 4],
            usage=usage if n % 6 else None,
            duration=timedelta(milliseconds=100 * (n % 17 + 1) + n),
        )
        executions.append(events)
    return [*executions, agent_execution()]


def agent_execution() -> list[Event]:
    """A rejected, deployed execution whose three LLM spans report AGENT_USAGE."""
    _, events = ingested(
        START + timedelta(minutes=95, seconds=30),
        "agent",
        "REJECTED",
        deployment=Deployed("agent-deploy", "prod"),
        usage=[("placeholder", 1, 1, 0.0)] * len(AGENT_USAGE),
        duration=timedelta(milliseconds=1_750),
    )
    ends = [e for e in events if e["name"] == "node.execution.fulfilled"]
    for event, usage in zip(ends, AGENT_USAGE, strict=True):
        event["body"]["usage_result"] = usage
    return events


@dataclass(frozen=True)
class Projected:
    """The server the executions went through, and what was sent."""

    server: RunningServer
    clickhouse_url: str
    base: str
    workspace_id: UUID
    other_workspace_id: UUID
    sent: list[Sent]

    def grafana(self) -> Any:
        """A client as the data source connects: on the base database (`defaultDatabase`)."""
        return connect(self.clickhouse_url, self.base)


@pytest.fixture(scope="module")
def projected(clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Projected]:
    with fresh_clickhouse_env(clickhouse_url) as env:
        data = tmp_path_factory.mktemp("grafana-data")
        with server_in_thread({**env, "RUNLEDGER_DATA_DIR": str(data)}) as server:
            executions = history()
            post_visible(server, executions)
            other_key = create_key(server.env, "grafana-other")
            # Another workspace's executions of the same workflows: no panel may count them.
            for events in history()[:6]:
                post_visible_with(server, events, other_key)
            yield Projected(
                server,
                clickhouse_url,
                env["RUNLEDGER_CLICKHOUSE_DATABASE"],
                workspace_id_for("tests"),
                workspace_id_for("grafana-other"),
                [Sent(events, listed_row(events), model_uses(events)) for events in executions],
            )


def post_visible_with(server: RunningServer, events: list[Event], key: str) -> None:
    response = httpx.post(
        server.base_url + "/monitoring/v1/events",
        content=orjson.dumps(events),
        headers={**server.headers(), "X-API-KEY": key},
    )
    assert response.status_code == 200, response.text
    token = response.json()["log_position"]
    waited = httpx.get(
        f"{server.base_url}/v1/workflow-executions",
        params={"min_log_position": token},
        headers={**server.headers(), "X-API-KEY": key},
    )
    assert waited.status_code == 200, waited.text


# What runs the SQL -------------------------------------------------------------------------


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def run(
    client: Any, sql: str, variables: dict[str, Value], options: dict[str, Value] | None = None
) -> list[dict[str, Any]]:
    """The rows ClickHouse answers to `sql` as Grafana sends it."""
    result = client.query(expand(sql, variables, PANEL_TIME, options or {}))
    return [
        {name: _utc(value) for name, value in zip(result.column_names, row, strict=True)}
        for row in result.result_rows
    ]


def variable_values(
    client: Any, dashboard: dict[str, Any], chosen: Mapping[str, Value]
) -> tuple[dict[str, Value], dict[str, Value]]:
    """The dashboard's query variables resolved in order, as Grafana does on load (each may
    name those before it), with `chosen` picked where given; and each one's options."""
    values: dict[str, Value] = {}
    options: dict[str, Value] = {}
    for variable in dashboard["templating"]["list"]:
        name = variable["name"]
        if variable["type"] == "query":
            rows = run(client, variable["query"]["rawSql"], values, options)
            # The plugin's variable query: the first column is each option's value.
            options[name] = [str(next(iter(row.values()))) for row in rows]
            values[name] = chosen.get(name, options[name][0] if options[name] else "")
        else:
            values[name] = chosen.get(name, variable.get("query", ""))
    return values, options


def panels(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {panel["title"]: panel for panel in dashboard["panels"]}


def panel_rows(
    projected: Projected, dashboard: str, title: str, chosen: Mapping[str, Value]
) -> list[dict[str, Any]]:
    board = DASHBOARDS[dashboard]
    (target,) = panels(board)[title]["targets"]
    client = projected.grafana()
    try:
        values, options = variable_values(client, board, chosen)
        return run(client, target["rawSql"], values, options)
    finally:
        client.close()


# What the panels must say, from the fold ----------------------------------------------------


def in_range(projected: Projected, workflows: Value) -> list[Sent]:
    """The executions the overview counts: started in the panel's range (seconds, both ends
    in, as `$__timeFilter`), of the chosen workflows."""
    low = math.floor(PANEL_TIME.start.timestamp())
    high = math.floor(PANEL_TIME.end.timestamp())
    return [
        sent
        for sent in projected.sent
        if low <= math.floor(sent.row["started_at"].timestamp()) <= high
        and (workflows == ALL or sent.row["workflow"] in workflows)
    ]


def bucket(moment: datetime) -> datetime:
    seconds = int(PANEL_TIME.interval.total_seconds())
    unix = math.floor(moment.timestamp())
    return datetime.fromtimestamp(unix - unix % seconds, UTC)


def quantile_exact(values: list[float], level: float) -> float:
    """ClickHouse's quantileExact: the value at `level` times the count in sorted order."""
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


def model_name(model: str) -> str:
    return model or "(none)"


def grouped(kept: list[Sent], key: Callable[[Sent], Any]) -> dict[Any, list[Sent]]:
    groups: dict[Any, list[Sent]] = defaultdict(list)
    for sent in kept:
        groups[key(sent)].append(sent)
    return groups


def by_start_and_workflow(sent: Sent) -> tuple[datetime, str]:
    return bucket(sent.row["started_at"]), sent.row["workflow"]


def model_totals(kept: list[Sent], key: Callable[[Sent, ModelUse], Any]) -> dict[Any, list[float]]:
    totals: dict[Any, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for sent in kept:
        for use in sent.uses:
            total = totals[key(sent, use)]
            total[0] += use.input_tokens
            total[1] += use.output_tokens
            total[2] += use.cost
    return totals


def ended(sents: list[Sent]) -> list[Sent]:
    return [s for s in sents if s.row["status"] in ("FULFILLED", "REJECTED")]


def rejected_share(sents: list[Sent]) -> float | None:
    done = ended(sents)
    return sum(s.row["status"] == "REJECTED" for s in done) / len(done) if done else None


def expect_overview(title: str, kept: list[Sent]) -> Any:
    """What the overview panel `title` must answer for the executions `kept`, in the shape
    `answer_of` gives its rows."""
    per_workflow = grouped(kept, by_start_and_workflow)
    if title == "Executions":
        return [len(kept)]
    if title == "Error rate":
        return [rejected_share(kept)]
    if title == "Tokens":
        return [sum(s.input_tokens for s in kept), sum(s.output_tokens for s in kept)]
    if title == "Cost":
        return [sum(s.row["cost"] for s in kept)]
    if title == "Executions per workflow":
        return {key: [len(group)] for key, group in per_workflow.items()}
    if title == "Error rate per workflow":
        return {key: [rejected_share(group)] for key, group in per_workflow.items() if ended(group)}
    if title == "Duration percentiles":
        durations: dict[datetime, list[float]] = defaultdict(list)
        for sent in ended(kept):
            durations[bucket(sent.row["started_at"])].append(sent.row["duration_ms"])
        return {
            (start,): [quantile_exact(values, level) for level in (0.5, 0.9, 0.99)]
            for start, values in durations.items()
        }
    if title == "Tokens per workflow":
        return {
            key: [sum(s.input_tokens for s in group), sum(s.output_tokens for s in group)]
            for key, group in per_workflow.items()
        }
    if title == "Cost per workflow":
        return {key: [sum(s.row["cost"] for s in group)] for key, group in per_workflow.items()}
    if title == "Tokens per model":
        totals = model_totals(kept, lambda s, u: (bucket(s.row["started_at"]), model_name(u.model)))
        return {key: total[:2] for key, total in totals.items()}
    if title == "Cost per model":
        totals = model_totals(kept, lambda s, u: (bucket(s.row["started_at"]), model_name(u.model)))
        return {key: total[2:] for key, total in totals.items()}
    if title == "Usage per workflow and model":
        totals = model_totals(kept, lambda s, u: (s.row["workflow"], model_name(u.model)))
        executions: dict[Any, set[UUID]] = defaultdict(set)
        for sent in kept:
            for use in sent.uses:
                executions[(sent.row["workflow"], model_name(use.model))].add(
                    sent.row["execution_id"]
                )
        return {key: [len(executions[key]), *total] for key, total in totals.items()}
    if title == "Latest rejected executions":
        rejected = sorted(
            (s for s in kept if s.row["status"] == "REJECTED"),
            key=lambda s: (-s.row["started_at"].timestamp(), s.row["execution_id"]),
        )
        return [
            [
                s.row["execution_id"],
                s.row["workflow"],
                s.row["started_at"],
                s.row["duration_ms"],
                s.row["error_code"],
                s.row["error_message"],
            ]
            for s in rejected[:50]
        ]
    raise AssertionError(f"no expectation for the overview panel {title!r}: add one")


# Each panel's group-by columns: its rows become {group: [values]}; a panel without any is a
# list of its rows' values (one row for a stat).
OVERVIEW_GROUPS = {
    "Executions per workflow": ("time", "workflow"),
    "Error rate per workflow": ("time", "workflow"),
    "Duration percentiles": ("time",),
    "Tokens per workflow": ("time", "workflow"),
    "Cost per workflow": ("time", "workflow"),
    "Tokens per model": ("time", "model_name"),
    "Cost per model": ("time", "model_name"),
    "Usage per workflow and model": ("workflow", "model_name"),
}


def answer_of(title: str, rows: list[dict[str, Any]]) -> Any:
    group = OVERVIEW_GROUPS.get(title)
    if group is None:
        values = [list(row.values()) for row in rows]
        return values[0] if len(values) == 1 and title != "Latest rejected executions" else values
    answer = {}
    for row in rows:
        key = tuple(row[name] for name in group)
        assert key not in answer, f"{title}: two rows for {key}"
        answer[key] = [value for name, value in row.items() if name not in group]
    return answer


def same(got: Any, want: Any) -> bool:
    """Equal, floats within float error (a sum's order differs between Python and ClickHouse)."""
    if isinstance(want, float) and isinstance(got, float | int):
        return bool(got == pytest.approx(want))
    if isinstance(want, list | tuple) and isinstance(got, list | tuple):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict) and isinstance(got, dict):
        return sorted(got, key=str) == sorted(want, key=str) and all(
            same(got[key], want[key]) for key in want
        )
    return bool(got == want)


WORKFLOW_CHOICES = [
    pytest.param(ALL, id="all-workflows"),
    pytest.param(["summarise", "agent"], id="two-workflows"),
]


@pytest.mark.parametrize("title", [p["title"] for p in DASHBOARDS["overview"]["panels"]])
@pytest.mark.parametrize("workflows", WORKFLOW_CHOICES)
def test_each_overview_panel_answers_what_the_sent_events_say(
    projected: Projected, title: str, workflows: Value
) -> None:
    chosen = {"workspace": str(projected.workspace_id), "workflow": workflows}
    rows = panel_rows(projected, "overview", title, chosen)
    kept = in_range(projected, workflows)
    assert rows, f"{title}: no rows"
    answer, expected = answer_of(title, rows), expect_overview(title, kept)
    assert same(answer, expected), (answer, expected)


def test_the_range_and_the_workspace_bound_what_the_overview_counts(projected: Projected) -> None:
    # Past the panel's range: executions 61 to 69 (and the running ones count, not ended).
    kept = in_range(projected, ALL)
    assert 0 < len(kept) < len(projected.sent)
    assert {s.row["status"] for s in kept} == {"FULFILLED", "REJECTED", "INITIATED"}
    chosen = {"workspace": str(projected.other_workspace_id), "workflow": ALL}
    other = panel_rows(projected, "overview", "Executions", chosen)
    assert other == [{"executions": 6}]


def test_the_variables_read_the_live_generation_its_workspaces_and_workflows(
    projected: Projected,
) -> None:
    client = projected.grafana()
    try:
        values, options = variable_values(
            client, DASHBOARDS["overview"], {"workspace": str(projected.workspace_id)}
        )
    finally:
        client.close()
    assert values["generation"] == f"{projected.base}_g1"
    assert sorted(options["workspace"]) == sorted(
        [str(projected.workspace_id), str(projected.other_workspace_id)]
    )
    assert options["workflow"] == sorted({s.row["workflow"] for s in in_range(projected, ALL)})


# The execution view ------------------------------------------------------------------------


def the_agent(projected: Projected) -> Sent:
    (agent,) = [s for s in projected.sent if s.row["workflow"] == "agent"]
    return agent


def execution_rows(projected: Projected, title: str, execution_id: str) -> list[dict[str, Any]]:
    chosen = {"workspace": str(projected.workspace_id), "execution_id": execution_id}
    return panel_rows(projected, "execution", title, chosen)


def test_the_execution_header_is_the_lists_row(projected: Projected) -> None:
    agent = the_agent(projected)
    row = agent.row
    (stat,) = execution_rows(projected, "Execution", str(row["execution_id"]))
    assert stat == pytest.approx(
        {
            "status": "REJECTED",
            "duration_ms": 1750.0,
            "input_tokens": 40,
            "output_tokens": 10,
            "cost": 0.88,
        }
    )
    (header,) = execution_rows(projected, "Header", str(row["execution_id"]))
    assert header == {
        "workflow": "agent",
        "started_at": row["started_at"],
        "ended_at": row["ended_at"],
        "span_count": 1 + len(AGENT_USAGE),
        "error_code": "PROVIDER_ERROR",
        "error_message": "agent failed: rate limit",
        "deployment": "agent-deploy",
        "release_tag": "prod",
        "external_id": f"ext-{row['execution_id']}",
        "trace_id": row["trace_id"],
    }


def test_usage_per_model_splits_a_spans_cost_by_tokens(projected: Projected) -> None:
    agent = the_agent(projected)
    rows = execution_rows(projected, "Usage per model", str(agent.row["execution_id"]))
    assert same(
        {row["model_name"]: row for row in rows},
        {
            # 0.08 split 40:10 by tokens, and half of 0.3 (neither model has tokens).
            "gpt-4o": {
                "model_name": "gpt-4o",
                "spans": 2,
                "input_tokens": 30,
                "output_tokens": 10,
                "cost": 0.064 + 0.15,
            },
            "claude-sonnet-4": {
                "model_name": "claude-sonnet-4",
                "spans": 1,
                "input_tokens": 10,
                "output_tokens": 0,
                "cost": 0.016,
            },
            "gpt-4o-mini": {
                "model_name": "gpt-4o-mini",
                "spans": 1,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost": 0.15,
            },
            "(none)": {
                "model_name": "(none)",
                "spans": 1,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost": 0.5,
            },
        },
    ), rows
    assert sum(row["cost"] for row in rows) == pytest.approx(agent.row["cost"])


def _spans(events: list[Event]) -> dict[str, tuple[str, datetime, datetime]]:
    """Each span's (name, start, end) by its id as otel_traces writes it (32 hex digits)."""
    spans: dict[str, Any] = {}
    for event in events:
        span = UUID(event["span_id"]).hex
        at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        definition = event["body"].get("workflow_definition") or event["body"]["node_definition"]
        name, start, end = spans.get(span, (definition["name"], at, at))
        spans[span] = (name, min(start, at), max(end, at))
    return spans


def test_the_trace_panel_has_every_span_in_the_trace_views_columns(projected: Projected) -> None:
    agent = the_agent(projected)
    root = agent.row["execution_id"].hex
    rows = execution_rows(projected, "Trace", str(agent.row["execution_id"]))
    spans = _spans(agent.events)
    assert sorted(row["spanID"] for row in rows) == sorted(spans)
    # The columns Grafana's trace view reads (the plugin's trace-id query aliases).
    assert set(rows[0]) == {
        "traceID",
        "spanID",
        "parentSpanID",
        "serviceName",
        "operationName",
        "startTime",
        "duration",
        "tags",
        "serviceTags",
        "statusCode",
        "logs",
        "references",
        "kind",
        "statusMessage",
        "instrumentationLibraryName",
        "instrumentationLibraryVersion",
        "traceState",
    }
    for row in rows:
        name, start, end = spans[row["spanID"]]
        assert row["traceID"] == agent.row["trace_id"].hex
        assert row["operationName"] == name
        assert row["startTime"] == pytest.approx(start.timestamp() * 1000)
        assert row["duration"] == pytest.approx((end - start) / timedelta(milliseconds=1))
        assert row["serviceName"] == "runledger"
        assert {"key": "runledger.execution_id", "value": str(agent.row["execution_id"])} in row[
            "serviceTags"
        ]
        if row["spanID"] == root:
            assert row["statusCode"] == 2
            assert row["statusMessage"] == "agent failed: rate limit"
        else:
            assert (row["statusCode"], row["parentSpanID"]) == (0, root)
    table = execution_rows(projected, "Spans", str(agent.row["execution_id"]))
    assert [(row["span_id"], row["duration_ms"]) for row in table] == [
        (span, (end - start) / timedelta(milliseconds=1))
        for span, (_, start, end) in sorted(spans.items(), key=lambda item: (item[1][1], item[0]))
    ]


@pytest.mark.parametrize(
    "execution_id", ["", "not-an-id", str(uuid.uuid4())], ids=["empty", "garbage", "unknown"]
)
def test_an_execution_id_that_names_nothing_leaves_every_panel_empty(
    projected: Projected, execution_id: str
) -> None:
    for title in panels(DASHBOARDS["execution"]):
        assert execution_rows(projected, title, execution_id) == [], title


def test_another_workspaces_execution_is_not_shown(projected: Projected) -> None:
    agent = the_agent(projected)
    chosen = {
        "workspace": str(projected.other_workspace_id),
        "execution_id": str(agent.row["execution_id"]),
    }
    for title in panels(DASHBOARDS["execution"]):
        assert panel_rows(projected, "execution", title, chosen) == [], title


def test_after_a_replay_the_dashboards_read_the_new_generation(projected: Projected) -> None:
    admin = {"X-Admin-Token": TEST_ADMIN_TOKEN}
    base_url = projected.server.base_url
    assert httpx.post(f"{base_url}/admin/replay", headers=admin).status_code in (200, 202)
    deadline = time.monotonic() + 120
    while (state := httpx.get(f"{base_url}/admin/replay", headers=admin).json())[
        "state"
    ] == "running":
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["state"] == "done", state
    generations = Generations(projected.clickhouse_url, projected.base)
    try:
        assert generations.active() == f"{projected.base}_g2"
    finally:
        generations.close()
    client = projected.grafana()
    try:
        values, _ = variable_values(client, DASHBOARDS["overview"], {})
    finally:
        client.close()
    assert values["generation"] == f"{projected.base}_g2"
    chosen = {"workspace": str(projected.workspace_id), "workflow": ALL}
    assert panel_rows(projected, "overview", "Executions", chosen) == [
        {"executions": len(in_range(projected, ALL))}
    ]
    agent = the_agent(projected)
    assert len(execution_rows(projected, "Trace", str(agent.row["execution_id"]))) == 4


# The files themselves ------------------------------------------------------------------------

EXPANDED_ENV = {
    "RUNLEDGER_GRAFANA_CLICKHOUSE_HOST": "clickhouse",
    "RUNLEDGER_GRAFANA_CLICKHOUSE_PORT": "8123",
    "RUNLEDGER_GRAFANA_CLICKHOUSE_PROTOCOL": "http",
    "RUNLEDGER_GRAFANA_CLICKHOUSE_SECURE": "false",
    "RUNLEDGER_GRAFANA_CLICKHOUSE_USER": "grafana",
    "RUNLEDGER_GRAFANA_CLICKHOUSE_PASSWORD": "secret",
    "RUNLEDGER_CLICKHOUSE_DATABASE": "runledger",
    "RUNLEDGER_GRAFANA_TRACES_DATABASE": "runledger_g1",
}


def provisioning(relative: str) -> Any:
    """A provisioning file as Grafana reads it: `$NAME` and `${NAME}` from its environment,
    then YAML."""
    text = (GRAFANA / "provisioning" / relative).read_text()
    names = set(re.findall(r"\$\{(\w+)\}|\$(\w+)", text))
    used = {a or b for a, b in names}
    assert used <= set(EXPANDED_ENV), used - set(EXPANDED_ENV)
    text = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: EXPANDED_ENV[m[1] or m[2]], text)
    return yaml.safe_load(text)


def test_the_data_source_is_the_one_every_panel_and_variable_names() -> None:
    (source,) = provisioning("datasources/runledger.yaml")["datasources"]
    assert source["type"] == "grafana-clickhouse-datasource"
    data = source["jsonData"]
    assert (data["host"], data["port"], data["protocol"], data["secure"]) == (
        "clickhouse",
        8123,
        "http",
        False,
    )
    assert data["defaultDatabase"] == "runledger"
    assert data["traces"]["defaultTable"] == "otel_traces"
    assert source["secureJsonData"]["password"] == "secret"
    expected = {"type": source["type"], "uid": source["uid"]}
    for name, board in DASHBOARDS.items():
        for panel in board["panels"]:
            assert panel["datasource"] == expected, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"] == expected
                assert target["editorType"] == "sql"
                assert target["rawSql"].strip()
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["datasource"] == expected, (name, variable["name"])


def test_the_dashboards_provider_reads_files() -> None:
    (provider,) = provisioning("dashboards/runledger.yaml")["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/")


def test_every_panel_is_checked_and_the_trace_panel_is_a_trace_query() -> None:
    overview = panels(DASHBOARDS["overview"])
    for title in overview:
        expect_overview(title, [])  # raises for a panel this module does not check
    assert len({p["id"] for p in DASHBOARDS["overview"]["panels"]}) == len(overview)
    execution = panels(DASHBOARDS["execution"])
    # Checked one by one above (header, usage, trace, spans) and all together for no rows.
    assert set(execution) == {"Execution", "Header", "Usage per model", "Trace", "Spans"}
    trace = execution["Trace"]
    assert trace["type"] == "traces"
    assert trace["targets"][0]["format"] == 3  # the plugin's trace format
    assert {d["uid"] for d in DASHBOARDS.values()} == {"runledger-overview", "runledger-execution"}
