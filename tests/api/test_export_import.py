"""`runledger export` and `runledger import`: the log as NDJSON into another instance on the
other log backend, where every status and detail page reads the same and verify agrees."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from api.app import open_ledger
from api.cli import parser
from api.settings import Settings
from tests.api.runtime_support import (
    STANDARD,
    Release,
    deployed_server,
    register,
    string,
    wait_for_status,
)
from tests.conftest import fresh_clickhouse_env, postgres_log
from tests.events import execution
from tests.sdk_workflows import SDK_WORKFLOWS, root_execution
from tests.servers import (
    TEST_ADMIN_TOKEN,
    RunningServer,
    create_key,
    post_events,
    server_in_thread,
    vellum_client,
)


def run_cli(env: Mapping[str, str], *args: str) -> int:
    parsed = parser().parse_args(list(args))
    code: int = parsed.handler(parsed, env)
    return code


def head(env: Mapping[str, str]) -> int:
    ledger = open_ledger(Settings.from_env(env))
    try:
        return ledger.max_position()
    finally:
        ledger.close()


def reads(server: RunningServer, execution_ids: list[str]) -> dict[str, Any]:
    """Status and every detail page (two spans a page) of each execution, as JSON."""
    found: dict[str, Any] = {}
    for execution_id in execution_ids:
        status = httpx.get(
            f"{server.base_url}/v1/workflows/executions/{execution_id}/status",
            headers=server.headers(),
        )
        assert status.status_code == 200, status.text
        answer = status.json()
        # A link to the answering server.
        answer.pop("execution_detail_url")
        pages = []
        cursor = None
        while True:
            params = {"span_limit": 2, **({"prev_span_id": cursor} if cursor else {})}
            page = httpx.get(
                f"{server.base_url}/v1/workflow-executions/{execution_id}/detail",
                params=params,
                headers=server.headers(),
            ).json()
            # Numbers are keyed by each log's own secret, and positions are each log's own.
            page.pop("number", None)
            pages.append(page)
            if len(page["spans"]) < 2:
                break
            cursor = page["spans"][-1]["span_id"]
        found[execution_id] = {"status": answer, "detail": pages}
    return found


@pytest.mark.postgres
def test_an_export_imported_on_the_other_backend_reads_the_same(
    sqlite_env: dict[str, str], postgres_ready: None, clickhouse_url: str, tmp_path: Path
) -> None:
    export = tmp_path / "log.ndjson.zst"
    with deployed_server(sqlite_env, STANDARD) as source:
        runs = {name: make() for name, make in SDK_WORKFLOWS.items()}
        for events in runs.values():
            post_events(source, events)
        ids = [str(root_execution(events)) for events in runs.values()]
        with vellum_client(source) as client:
            accepted = client.execute_workflow_async(
                workflow_deployment_name="summarize", inputs=[string("text", "carry me over")]
            )
            wait_for_status(client, accepted.execution_id, "FULFILLED")
        ids.append(accepted.execution_id)
        source_head = head(source.env)
        httpx.get(  # everything visible before reading
            f"{source.base_url}/v1/workflow-executions",
            params={"limit": 1},
            headers=source.headers(),
        )
        before = reads(source, ids)
        assert run_cli(source.env, "export", "-o", str(export)) == 0

    with (
        fresh_clickhouse_env(clickhouse_url) as clickhouse,
        postgres_log(clickhouse, tmp_path / "target") as target_env,
    ):
        assert run_cli(target_env, "import", str(export)) == 0
        imported = head(target_env)
        # Every record but the source's own secret (positions are the target's own).
        assert imported == source_head - 1
        assert run_cli(target_env, "import", str(export)) == 0
        assert head(target_env) == imported, "a second import adds nothing"
        with server_in_thread({**target_env, "RUNLEDGER_ADMIN_TOKEN": TEST_ADMIN_TOKEN}) as target:
            wait = httpx.get(
                f"{target.base_url}/v1/workflow-executions",
                params={"limit": 1},
                headers=target.headers(),
                timeout=60,
            )
            assert wait.status_code == 200
            for execution_id in ids:
                target_reads = reads(target, [execution_id])
                assert target_reads[execution_id] == before[execution_id], execution_id
            verified = httpx.post(
                f"{target.base_url}/admin/verify",
                headers={"X-Admin-Token": TEST_ADMIN_TOKEN},
                timeout=120,
            )
            assert verified.status_code == 200, verified.text
            assert verified.json()["differences"] == []
            # The deployment came along: the target runs it.
            with vellum_client(target) as client:
                deployments = client.workflow_deployments.list().results or []
                assert "summarize" in {deployment.name for deployment in deployments}


def test_a_workspace_and_time_range_export_gzipped(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    other_key = create_key(sqlite_env, "someone-else")
    with server_in_thread(sqlite_env) as server:
        ours = execution(node_count=2)
        post_events(server, ours)
        post_events(server, execution(node_count=1), key=other_key)
    export = tmp_path / "tests.ndjson.gz"
    assert run_cli(sqlite_env, "export", "--workspace", "tests", "-o", str(export)) == 0
    header, *records = [
        orjson.loads(line) for line in gzip.decompress(export.read_bytes()).splitlines()
    ]
    assert header["format"] == "runledger-export"
    assert header["workspace"] == "tests"
    events = [record for record in records if "event" in record or "event_text" in record]
    assert [record["event"]["id"] for record in events] == [event["id"] for event in ours]
    keys = [record for record in records if record["topic"].startswith("domain.keys:")]
    assert {record["state"]["workspace_name"] for record in keys} == {"tests"}
    assert not [record for record in records if "TokenSecret" in record["topic"]]

    later = tmp_path / "later.ndjson"
    assert run_cli(sqlite_env, "export", "--since", "2999-01-01", "-o", str(later)) == 0
    lines = later.read_bytes().splitlines()
    assert not [line for line in lines[1:] if b'"event"' in line]


def test_an_event_with_line_breaks_keeps_its_bytes(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    events = execution(node_count=1)
    sent = [orjson.dumps(event, option=orjson.OPT_INDENT_2) for event in events]
    with server_in_thread(sqlite_env) as server:
        answer = httpx.post(
            f"{server.base_url}/monitoring/v1/events",
            content=b"[" + b",".join(sent) + b"]",
            headers=server.headers(),
        )
        assert answer.status_code == 200, answer.text
    export = tmp_path / "log.ndjson"
    assert run_cli(sqlite_env, "export", "-o", str(export)) == 0
    lines = export.read_bytes().splitlines()
    texts = [orjson.loads(line)["event_text"].encode() for line in lines if b"event_text" in line]
    assert texts == sent
    target = {**sqlite_env, "RUNLEDGER_DATA_DIR": str(tmp_path / "target")}
    assert run_cli(target, "import", str(export)) == 0
    ledger = open_ledger(Settings.from_env(target))
    try:
        assert [event.raw for event in ledger.read(after=0, limit=100)] == sent
    finally:
        ledger.close()


def test_a_file_that_is_not_an_export_is_refused_storing_nothing(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(b'{"format": "runledger-export", "version": 1}\n{"topic": 3}\n')
    target = {**sqlite_env, "RUNLEDGER_DATA_DIR": str(tmp_path / "target")}
    with pytest.raises(ValueError, match="line 2"):
        run_cli(target, "import", str(bad))
    assert head(target) == 0
    bad.write_bytes(b"not json\n")
    with pytest.raises(ValueError, match="not a runledger-export file"):
        run_cli(target, "import", str(bad))


def test_an_aggregate_held_with_other_contents_is_a_conflict_not_a_merge(
    sqlite_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register(sqlite_env, [Release("summarize", "tests.runtime.entrypoints:summarize")])
    export = tmp_path / "log.ndjson"
    assert run_cli(sqlite_env, "export", "-o", str(export)) == 0
    target = {**sqlite_env, "RUNLEDGER_DATA_DIR": str(tmp_path / "target")}
    # The target has its own deployment of that name: the same stream, another history.
    register(target, [Release("summarize", "tests.runtime.entrypoints:shout")])
    capsys.readouterr()
    assert run_cli(target, "import", str(export)) == 1
    err = capsys.readouterr().err
    assert "conflict: domain.deployments:Deployment.Registered" in err
    assert "the file's record was not stored" in err
    # Importing into an instance of the same lineage is no conflict.
    assert run_cli(sqlite_env, "import", str(export)) == 0
