"""Running deployed workflows: Vellum's execute endpoints, in its shapes.

- `POST /v1/execute-workflow` waits and answers FULFILLED with outputs or REJECTED.
- `POST /v1/execute-workflow-async` answers the execution id at once.
- `POST /v1/execute-workflow-stream` streams `WorkflowStreamEvent`s as newline-delimited JSON.
- `POST /v1/workflow-deployments/{id_or_name}/execute-stream` streams the events themselves.

Every streamed event is in the log before it is sent. A repeated request (same `external_id`,
same body) answers the execution it started the first time; streams replay its events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api.auth import require_workspace
from api.body import read_limited_body
from api.errors import ApiError
from api.run_requests import ExecuteBody, parse_execute_body
from api.stream_shapes import result_data, stream_event
from domain.keys import Workspace
from domain.runs import Run
from projections.views import Views
from runtime.executor import RunRequest, Runtime
from runtime.handles import Outcome, RunHandle

_NDJSON = "application/x-ndjson"
# How long a repeated request waits for a run another replica is still running.
_FOREIGN_RUN_WAIT_SECONDS = 600.0


async def _start(
    request: Request, *, native: bool, listen: bool
) -> tuple[
    Workspace, ExecuteBody, Run, RunHandle | None, asyncio.Queue[list[dict[str, Any]] | None]
]:
    workspace = await require_workspace(request)
    settings = request.app.state.settings
    deployment = request.path_params.get("id_or_name") if native else None
    raw = await read_limited_body(request, settings.max_body_bytes)
    body = parse_execute_body(raw, deployment=deployment, native=native)
    runtime: Runtime = request.app.state.runtime
    found, release, entrypoint, inputs = await run_in_threadpool(
        runtime.prepare, workspace.id, body.deployment, body.release_tag, body.inputs
    )
    queue: asyncio.Queue[list[dict[str, Any]] | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def listener(events: list[dict[str, Any]]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, events)

    run_request = RunRequest(
        workspace_id=workspace.id,
        deployment=found,
        release=release,
        release_tag=body.release_tag or "LATEST",
        entrypoint=entrypoint,
        inputs=inputs,
        external_id=body.external_id,
        metadata=body.metadata,
        previous_execution_id=body.previous_execution_id,
    )
    run, handle = await run_in_threadpool(runtime.submit, run_request, listener if listen else None)
    if handle is not None and listen:

        def end_of_stream(_: Outcome) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, None)

        handle.on_done(end_of_stream)
    return workspace, body, run, handle, queue


async def _outcome(request: Request, workspace: Workspace, run: Run) -> Outcome:
    """The outcome of a run: from its handle here, else from the projections as it lands."""
    runtime: Runtime = request.app.state.runtime
    handle = runtime.handle(run.id)
    if handle is not None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Outcome] = loop.create_future()

        def settle(outcome: Outcome) -> None:
            loop.call_soon_threadsafe(_settle, done, outcome)

        handle.on_done(settle)
        return await done
    # Another replica runs it: its end is read from the projections as it lands.
    views: Views = request.app.state.views
    ended = await run_in_threadpool(views.outcome, workspace.id, run.id, _FOREIGN_RUN_WAIT_SECONDS)
    if ended is None:
        raise ApiError(504, f"execution {run.id} did not finish in {_FOREIGN_RUN_WAIT_SECONDS:g}s")
    summary = ended.read.summary
    assert summary is not None
    assert summary.last_event_at is not None
    # The answer's `data.id` is the deciding event's, as the run's own answer was.
    return Outcome(
        ended.status.value,
        ended.outputs,
        ended.error,
        summary.last_event_at,
        str(ended.event_id) if ended.event_id is not None else None,
    )


def _settle(future: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


async def execute_workflow(request: Request) -> Response:
    """`POST /v1/execute-workflow`: run and wait."""
    workspace, body, run, _, _ = await _start(request, native=False, listen=False)
    outcome = await _outcome(request, workspace, run)
    return _json(
        {
            "execution_id": str(run.id),
            "run_id": None,
            "external_id": body.external_id,
            "data": result_data(outcome),
        }
    )


async def execute_workflow_async(request: Request) -> Response:
    """`POST /v1/execute-workflow-async`: accept, answer the execution id at once."""
    _, _, run, _, _ = await _start(request, native=False, listen=False)
    return _json({"execution_id": str(run.id)})


async def _events(
    request: Request,
    workspace: Workspace,
    run: Run,
    handle: RunHandle | None,
    queue: asyncio.Queue[list[dict[str, Any]] | None],
) -> AsyncIterator[list[dict[str, Any]]]:
    if handle is not None:
        while (events := await queue.get()) is not None:
            yield events
        return
    # A repeat: the run's events as recorded, once it has ended and is visible. An outcome
    # from this server's own handle comes as soon as the run's last events are in the log,
    # before the projections have them: wait for those too, or the stream would be cut short.
    await _outcome(request, workspace, run)
    views: Views = request.app.state.views
    raw = await run_in_threadpool(views.recorded_events, workspace.id, run.id)
    yield [orjson.loads(item) for item in raw]


def _stream(lines: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(lines, media_type=_NDJSON)


async def execute_workflow_stream(request: Request) -> Response:
    """`POST /v1/execute-workflow-stream`: Vellum's `WorkflowStreamEvent`s as they happen."""
    workspace, body, run, handle, queue = await _start(request, native=False, listen=True)
    execution_id = str(run.id)

    async def lines() -> AsyncIterator[bytes]:
        async for events in _events(request, workspace, run, handle, queue):
            for event in events:
                shaped = stream_event(event, execution_id, body.external_id, body.event_types)
                if shaped is not None:
                    yield orjson.dumps(shaped) + b"\n"

    return _stream(lines())


async def execute_stream_native(request: Request) -> Response:
    """`POST /v1/workflow-deployments/{id_or_name}/execute-stream`: the events themselves."""
    workspace, _, run, handle, queue = await _start(request, native=True, listen=True)

    async def lines() -> AsyncIterator[bytes]:
        async for events in _events(request, workspace, run, handle, queue):
            for event in events:
                yield orjson.dumps(event) + b"\n"

    return _stream(lines())


routes = [
    Route("/v1/execute-workflow", execute_workflow, methods=["POST"]),
    Route("/v1/execute-workflow-async", execute_workflow_async, methods=["POST"]),
    Route("/v1/execute-workflow-stream", execute_workflow_stream, methods=["POST"]),
    Route(
        "/v1/workflow-deployments/{id_or_name}/execute-stream",
        execute_stream_native,
        methods=["POST"],
    ),
]
