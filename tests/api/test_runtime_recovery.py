"""A server killed with runs in flight: the restart closes them and runs what was only queued."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.api.runtime_support import (
    REPO_ROOT,
    STANDARD,
    cancel,
    logged_events,
    number,
    register,
    string,
    wait_for_status,
)
from tests.servers import RunningServer, ServerProcess, create_key, vellum_client

pytestmark = pytest.mark.slow


@contextmanager
def _one_worker_busy(
    log_env: dict[str, str], tmp_path: Path, queued_text: str
) -> Iterator[tuple[ServerProcess, RunningServer, str, str]]:
    """A server process with one worker, busy with a long run, and a run queued behind it:
    (process, server, the run in flight, the queued run)."""
    # The child process imports the entrypoints from the repository, as `runledger serve`
    # would from a project.
    env = {
        **log_env,
        "RUNLEDGER_WORKERS": "1",
        "RUNLEDGER_REPLICA": "replica-a",
        "PYTHONPATH": str(REPO_ROOT),
    }
    register(env, STANDARD)
    process = ServerProcess(env, tmp_path / "server.log")
    process.start()
    server = RunningServer(process.base_url, create_key(env), env)
    try:
        with vellum_client(server) as client:
            in_flight = client.execute_workflow_async(
                workflow_deployment_name="slow", inputs=[number("seconds", 60)]
            ).execution_id
            wait_for_status(client, in_flight, "INITIATED")
            queued = client.execute_workflow_async(
                workflow_deployment_name="summarize", inputs=[string("text", queued_text)]
            ).execution_id
            assert client.workflows.workflow_execution_status(queued).status == "PENDING"
        yield process, server, in_flight, queued
    finally:
        process.stop()


def test_a_restart_closes_the_run_in_flight_and_runs_the_queued_one(
    log_env: dict[str, str], tmp_path: Path
) -> None:
    with _one_worker_busy(log_env, tmp_path, "after the crash") as runs:
        process, server, in_flight, queued = runs
        process.kill()
        process.start()  # the same log, the same replica name

        with vellum_client(server) as client:
            closed = wait_for_status(client, in_flight, {"REJECTED", "FULFILLED"}, timeout=20)
            assert closed.status == "REJECTED"
            assert closed.error is not None
            assert closed.error.code == "INTERNAL_SERVER_ERROR"
            assert "server stopped" in closed.error.message
            assert "started again" in closed.error.message
            ran = wait_for_status(client, queued, {"REJECTED", "FULFILLED"}, timeout=20)
            assert ran.status == "FULFILLED"
            assert ran.outputs == {"summary": "after the crash", "count": 3}

        # Another restart finds nothing left to close: one outcome per run, ever.
        process.stop()
        process.start()
        for execution_id in (in_flight, queued):
            terminal = [
                e["name"]
                for e in logged_events(server.env, execution_id)
                if e["span_id"] == execution_id
                and e["name"] in {"workflow.execution.fulfilled", "workflow.execution.rejected"}
            ]
            assert len(terminal) == 1, (execution_id, terminal)


def test_a_run_cancelled_while_queued_stays_cancelled_after_a_restart(
    sqlite_env: dict[str, str], tmp_path: Path
) -> None:
    with _one_worker_busy(sqlite_env, tmp_path, "never run") as runs:
        process, server, _, queued = runs
        assert cancel(server, queued).status_code == 202
        process.kill()  # before the one worker ever reached the cancelled run
        process.start()

        with vellum_client(server) as client:
            ended = wait_for_status(client, queued, {"REJECTED", "FULFILLED"}, timeout=20)
        assert ended.status == "REJECTED"
        assert ended.error is not None
        assert ended.error.code == "WORKFLOW_CANCELLED"
        # The function never ran: no span of its own under the workflow.
        assert {e["span_id"] for e in logged_events(server.env, queued)} == {queued}
