"""Deployments and releases: registered by `runledger deploy` or a file, listed in Vellum's
shapes, confined to their workspace; release tags pick what runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from vellum.client.core.api_error import ApiError
from vellum.client.errors.not_found_error import NotFoundError

from api.cli import main
from tests.api.runtime_support import (
    ENTRYPOINTS,
    SDK,
    STANDARD,
    Release,
    deployed_server,
    eventually,
    runtime_server_fixture,  # noqa: F401  (the runtime_server fixture)
    string,
)
from tests.servers import RunningServer, create_key, server_in_thread, vellum_client


def _deploy(env: dict[str, str], name: str, *argv: str) -> int:
    """`runledger deploy NAME ...` against the env's (SQLite) log, in this process."""
    return main(["deploy", name, "--data", env["RUNLEDGER_DATA_DIR"], *argv])


def test_deployments_are_listed_and_described_in_vellums_shapes(
    runtime_server: RunningServer,
) -> None:
    with vellum_client(runtime_server) as client:
        listed = client.workflow_deployments.list()
        assert listed.count == len(STANDARD)
        assert [d.name for d in listed.results or []] == [r.name for r in STANDARD]
        summary = next(d for d in listed.results or [] if d.name == "summarize")
        by_name = client.workflow_deployments.retrieve("summarize")
        by_id = client.workflow_deployments.retrieve(summary.id)
    assert by_name == by_id
    assert by_name.id == summary.id
    assert (by_name.name, by_name.label, by_name.status) == ("summarize", "summarize", "ACTIVE")
    variables = {(v.key, v.type, v.required) for v in by_name.input_variables}
    assert variables == {("text", "STRING", True), ("limit", "NUMBER", False)}
    releases = (by_name.model_extra or {})["releases"]
    assert [(r["entrypoint"], r["release_tags"]) for r in releases] == [
        (f"{ENTRYPOINTS}:summarize", ["LATEST"])
    ]
    assert by_name.last_deployed_history_item_id == releases[0]["id"]
    slim = {(v.key, v.type, v.required) for v in summary.input_variables}
    assert slim == variables


def test_a_bad_page_parameter_is_a_400_naming_it(sqlite_server: RunningServer) -> None:
    for query, field in (("limit=0", "limit"), ("limit=ten", "limit"), ("offset=-1", "offset")):
        response = httpx.get(
            f"{sqlite_server.base_url}/v1/workflow-deployments?{query}",
            headers=sqlite_server.headers(),
        )
        assert response.status_code == 400, query
        assert response.json()["errors"][0]["field"] == field, query


def test_another_workspaces_deployment_is_not_found(sqlite_env: dict[str, str]) -> None:
    private = Release("private", f"{ENTRYPOINTS}:shout", workspace="other")
    with deployed_server(sqlite_env, (*STANDARD, private)) as server:
        other = RunningServer(server.base_url, create_key(server.env, "other"), server.env)
        with vellum_client(other) as client:
            theirs = client.workflow_deployments.retrieve("private")
            assert [d.name for d in client.workflow_deployments.list().results or []] == ["private"]
        with vellum_client(server) as client:
            assert "private" not in {
                d.name for d in client.workflow_deployments.list().results or []
            }
            for ref in ("private", theirs.id):
                with pytest.raises(ApiError) as raised:
                    client.workflow_deployments.retrieve(ref)
                assert raised.value.status_code == 404
            with pytest.raises(NotFoundError):
                client.execute_workflow(
                    workflow_deployment_id=theirs.id, inputs=[string("text", "a")]
                )
            with pytest.raises(NotFoundError):
                client.execute_workflow(
                    workflow_deployment_name="private", inputs=[string("text", "a")]
                )


def test_a_new_release_moves_latest_and_a_tag_runs_the_release_it_names(
    sqlite_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _deploy(
            sqlite_env,
            "greet",
            "--entrypoint",
            f"{ENTRYPOINTS}:shout",
            "--tag",
            "production",
            "--workspace",
            "tests",
        )
        == 0
    )
    with server_in_thread(sqlite_env) as server, vellum_client(server) as client:

        def run(tag: str | None = None) -> object:
            answer = client.execute_workflow(
                workflow_deployment_name="greet",
                inputs=[string("text", " hi ")],
                **({"release_tag": tag} if tag else {}),  # type: ignore[arg-type]
            )
            assert answer.data.state == "FULFILLED", answer.data
            return answer.data.outputs[0].value

        assert run() == run("production") == " HI "
        # A second release while the server runs: the next run of LATEST is the new one.
        assert (
            _deploy(
                sqlite_env,
                "greet",
                "--entrypoint",
                f"{SDK}:LinearWorkflow",
                "--workspace",
                "tests",
            )
            == 0
        )
        assert run() == run("LATEST") == "HI!"
        assert run("production") == " HI "
        # The runtime reads the log; the description reads the projections, which learn of
        # a release `runledger deploy` wrote from another process at their next tick.
        described = eventually(
            lambda: client.workflow_deployments.retrieve("greet"),
            lambda found: len((found.model_extra or {})["releases"]) == 2,
            what="the second release in the description",
        )
        releases = (described.model_extra or {})["releases"]
        assert [(r["entrypoint"], r["release_tags"]) for r in releases] == [
            (f"{ENTRYPOINTS}:shout", ["production"]),
            (f"{SDK}:LinearWorkflow", ["LATEST"]),
        ]
        assert described.last_deployed_history_item_id == releases[1]["id"]
        assert {v.key for v in described.input_variables} == {"text"}
        # A release is also named by its id.
        assert run(releases[0]["id"]) == " HI "
        # Registering what the newest release already is adds nothing.
        _deploy(
            sqlite_env, "greet", "--entrypoint", f"{SDK}:LinearWorkflow", "--workspace", "tests"
        )
        assert "unchanged" in capsys.readouterr().out
        assert (
            len((client.workflow_deployments.retrieve("greet").model_extra or {})["releases"]) == 2
        )


def test_deploy_refuses_an_entrypoint_that_does_not_load(
    sqlite_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _deploy(sqlite_env, "broken", "--entrypoint", f"{ENTRYPOINTS}:no_such_thing") == 2
    assert "no_such_thing" in capsys.readouterr().err


def test_the_deployments_file_registers_its_entries_at_start(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    file = tmp_path / "deployments.toml"
    file.write_text(
        f"""
[[deployment]]
name = "from-file"
entrypoint = "{ENTRYPOINTS}:summarize"
tags = ["production"]
timeout_seconds = 30
workspace = "tests"
description = "summaries, from the file"

[[deployment]]
name = "elsewhere"
entrypoint = "{ENTRYPOINTS}:shout"
"""
    )
    env = {**sqlite_env, "RUNLEDGER_DEPLOYMENTS_FILE": str(file)}
    for _ in range(2):  # a second start with the same file adds no release
        with server_in_thread(env) as server, vellum_client(server) as client:
            listed = client.workflow_deployments.list()
            assert [d.name for d in listed.results or []] == ["from-file"]  # workspace "tests"
            described = client.workflow_deployments.retrieve("from-file")
            assert described.description == "summaries, from the file"
            releases = (described.model_extra or {})["releases"]
            assert [(r["release_tags"], r["timeout_seconds"]) for r in releases] == [
                (["LATEST", "production"], 30)
            ]
            answer = client.execute_workflow(
                workflow_deployment_name="from-file",
                release_tag="production",
                inputs=[string("text", "from a file")],
            )
            assert answer.data.state == "FULFILLED"
            assert {o.name: o.value for o in answer.data.outputs} == {
                "summary": "from a file",
                "count": 3,
            }
