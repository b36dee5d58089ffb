"""The runtime: accepts runs of deployed workflows and runs them on a bounded pool of workers.

A run is recorded (`Run.Requested`, in the log) before anyone is told its execution id, so an
accepted run is never lost: it waits as PENDING while every worker is busy, and a run a crash
left behind is dealt with at the next start (`recover`): one that never started runs then, one
that was in flight is closed as REJECTED with INTERNAL_SERVER_ERROR.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from domain.deployments import Deployment, Deployments, Release
from domain.errors import ExecutionNotFound
from domain.log.ledger import Ledger
from domain.runs import Run, Runs, request_digest
from domain.state import ResolvedState
from runtime import entrypoints
from runtime.contexts import RunIdentity, definition, deployment_context
from runtime.entrypoints import Entrypoint, Kind
from runtime.function_runs import run_function
from runtime.handles import Outcome, RunHandle
from runtime.recorder import FLUSH_SECONDS, EventRecorder, Listener
from runtime.sdk_runs import run_sdk_workflow
from runtime.stopping import StopReason
from runtime.values import check_inputs, python_inputs

log = logging.getLogger("runledger.runtime")

INTERNAL_ERROR = "INTERNAL_SERVER_ERROR"
# Pauses between tries to record a run's end, before the last try.
_END_RETRY_SECONDS = (0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A checked request to run a release."""

    workspace_id: UUID
    deployment: Deployment
    release: Release
    release_tag: str
    entrypoint: Entrypoint
    inputs: dict[str, Any]
    external_id: str | None
    metadata: dict[str, Any] | None
    previous_execution_id: UUID | None


@dataclass(frozen=True, slots=True)
class RuntimeLoad:
    """A moment's view of the runs in this process: a worker runs one run at a time."""

    workers: int
    queued: int
    running: int
    finished: dict[str, int]


class Runtime:
    """Runs deployed workflows in this process; see the module docstring."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        workers: int,
        replica: str,
        load_state: Callable[[UUID, UUID], ResolvedState | None],
        on_append: Callable[[], None] = lambda: None,
    ) -> None:
        self._ledger = ledger
        self._on_append = on_append
        self.deployments = Deployments(ledger)
        self.runs = Runs(ledger)
        self.replica = replica
        self._load_state = load_state
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runledger-run")
        self._workers = workers
        # Runs this process ended, by status, since it started (what /metrics counts).
        self._finished: Counter[str] = Counter()
        self._handles: dict[UUID, RunHandle] = {}
        self._recorders: dict[UUID, EventRecorder] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="run-flusher", daemon=True)
        self._flusher.start()

    # --- accepting -----------------------------------------------------------------------

    def prepare(
        self,
        workspace_id: UUID,
        deployment_ref: str,
        release_tag: str | None,
        sent_inputs: Mapping[str, tuple[Any, str | None]],
    ) -> tuple[Deployment, Release, Entrypoint, dict[str, Any]]:
        """Find the release and check the inputs against it; raises before recording anything."""
        deployment = self.deployments.find(workspace_id, deployment_ref)
        release = deployment.resolve(release_tag)
        entrypoint = entrypoints.load(release.entrypoint)
        return deployment, release, entrypoint, check_inputs(entrypoint, sent_inputs)

    def submit(
        self, request: RunRequest, listener: Listener | None = None
    ) -> tuple[Run, RunHandle | None]:
        """Record and queue a run; the existing run for a repeated `external_id`.

        Returns the run and, if this call created it, its handle. The listener, if any,
        receives the run's events as they are logged (only for a run this call created).
        """
        digest = request_digest(
            {
                "deployment_id": str(request.deployment.id),
                "release_tag": request.release_tag,
                "inputs": request.inputs,
                "metadata": request.metadata,
                "previous_execution_id": str(request.previous_execution_id or ""),
            }
        )
        run = Run(
            execution_id=uuid4(),
            workspace_id=request.workspace_id,
            deployment_id=request.deployment.id,
            release_id=request.release.id,
            release_tag=request.release_tag,
            inputs=request.inputs,
            external_id=request.external_id,
            metadata=request.metadata,
            previous_execution_id=request.previous_execution_id,
            digest=digest,
            replica=self.replica,
        )
        accepted = self.runs.request(run)
        if not accepted.created:
            return accepted.run, None
        handle = RunHandle(
            run,
            listeners=[listener] if listener else [],
            deployment=request.deployment,
            release=request.release,
            entrypoint=request.entrypoint,
        )
        self._queue(handle)
        return run, handle

    def _queue(self, handle: RunHandle) -> None:
        with self._lock:
            self._handles[handle.execution_id] = handle
        self._pool.submit(self._execute, handle)

    def handle(self, execution_id: UUID) -> RunHandle | None:
        """The in-process handle of a run that is queued or running here."""
        with self._lock:
            return self._handles.get(execution_id)

    # --- cancelling ----------------------------------------------------------------------

    def cancel(self, workspace_id: UUID, execution_id: UUID) -> Run:
        """Stop a run of the workspace; a run that already ended is left as it is."""
        run = self.runs.get(execution_id)
        if run is None or run.workspace_id != workspace_id:
            raise ExecutionNotFound(execution_id)
        handle = self.handle(execution_id)
        if handle is not None and handle.stopper.stop(
            "WORKFLOW_CANCELLED", "the execution was cancelled"
        ):
            self._record_cancel(handle)
        return run

    def _record_cancel(self, handle: RunHandle) -> None:
        # A run still waiting for a worker exists only as "requested" in the log: a restart
        # would queue it again. Its cancel is recorded, under the lock its worker starts it
        # with, so one of the two comes first (a started run is closed by recovery anyway).
        reason = handle.stopper.reason
        assert reason is not None
        with handle.starting:
            if handle.run.started:
                return
            handle.run.request_cancel(reason.code, reason.message, reason.at.isoformat())
            self.runs.save(handle.run)

    # --- running -------------------------------------------------------------------------

    def _target(self, handle: RunHandle) -> tuple[Deployment, Release]:
        # A run accepted here carries what `prepare` resolved; a recovered one reads it.
        if handle.deployment is None or handle.release is None:
            run = handle.run
            handle.deployment = self.deployments.find(run.workspace_id, str(run.deployment_id))
            handle.release = handle.deployment.release_by_id(run.release_id)
        return handle.deployment, handle.release

    def _identity(self, handle: RunHandle, name: str | None = None) -> RunIdentity:
        run = handle.run
        deployment, release = self._target(handle)
        return RunIdentity(
            execution_id=run.id,
            trace_id=run.trace_id or uuid4(),
            deployment_context=deployment_context(
                execution_id=run.id,
                deployment_id=deployment.id,
                deployment_name=deployment.name,
                release_id=release.id,
                release_tag=run.release_tag,
                external_id=run.external_id,
                metadata=run.metadata,
            ),
            workflow_definition=definition(release.entrypoint, name or deployment.name),
        )

    def _execute(self, handle: RunHandle) -> None:
        run = handle.run
        recorder = EventRecorder(self._ledger, run.workspace_id, handle.listeners, self._on_append)
        with self._lock:
            self._recorders[run.id] = recorder
        try:
            try:
                outcome = self._run(handle, recorder)
            except BaseException as error:  # a fault of Runledger's, never of user code
                log.exception("run failed inside the runtime", extra={"execution_id": str(run.id)})
                outcome = self._close_broken(handle, recorder, error)
            # The answer must be what the log holds: a terminal event the log refuses (outputs
            # nested deeper than ingest allows, say) is never stored, so the run ends REJECTED.
            refusal = recorder.refusal(outcome.event_id) if outcome.event_id else None
            if refusal:
                reasons = "; ".join(f"{error.field} {error.reason}" for error in refusal)
                refused = ValueError(f"the log refused the run's terminal event: {reasons}")
                outcome = self._close_broken(handle, recorder, refused)
            if recorder.refused:
                log.warning(
                    "the log refused events of a run",
                    extra={"execution_id": str(run.id), "refused_count": len(recorder.refused)},
                )
            # "Finished" commits with the run's last events: one fsync for both.
            run.finish(outcome.status)
            recorder.attach(run)
            self._flush_end(recorder)
        except Exception as error:
            log.exception("could not record the end of a run", extra={"execution_id": str(run.id)})
            # Not in the log, so not what to answer: recovery closes the run as REJECTED
            # (or runs it again if even its start is missing) when the server starts again.
            message = f"the end of the run could not be recorded: {error}"
            outcome = Outcome("REJECTED", {}, {"message": message, "code": INTERNAL_ERROR}, _now())
        finally:
            with self._lock:
                self._recorders.pop(run.id, None)
                self._handles.pop(run.id, None)
                self._finished[outcome.status] += 1
            handle.finish(outcome)

    @staticmethod
    def _flush_end(recorder: EventRecorder) -> None:
        # A busy or briefly unreachable log gets a few tries: a failed flush keeps everything
        # for the next one.
        for pause in _END_RETRY_SECONDS:
            try:
                recorder.flush()
                return
            except Exception:
                log.warning("could not record the end of a run; retrying", exc_info=True)
                time.sleep(pause)
        recorder.flush()

    def _run(self, handle: RunHandle, recorder: EventRecorder) -> Outcome:
        run = handle.run
        _, release = self._target(handle)
        entrypoint = handle.entrypoint or entrypoints.load(release.entrypoint)
        # "Started" commits with the run's first events (recovery tells the two kinds of
        # unfinished run apart by it: one never started runs again, a started one is closed).
        with handle.starting:
            run.start(uuid4())
            recorder.attach(run)
        identity = self._identity(handle, entrypoint.label)
        reason = handle.stopper.reason
        if reason is not None:  # cancelled while it waited for a worker
            recorder.emit(identity.workflow_event("initiated", {"inputs": run.inputs}, reason.at))
            rejected = identity.rejected(reason.message, reason.code, at=reason.at)
            recorder.emit(rejected)
            error = {"message": reason.message, "code": reason.code}
            return Outcome("REJECTED", {}, error, reason.at, rejected["id"])
        timer = None
        if release.timeout_seconds and entrypoint.kind is Kind.FUNCTION:
            timer = threading.Timer(
                release.timeout_seconds,
                handle.stopper.stop,
                ("WORKFLOW_TIMEOUT", f"the execution ran longer than {release.timeout_seconds:g}s"),
            )
            timer.daemon = True
            timer.start()
        try:
            inputs = python_inputs(entrypoint, run.inputs)
            if entrypoint.kind is Kind.WORKFLOW:
                # "Started" must be in the log before any user code runs, or a crash in
                # between would have recovery run the workflow a second time. The SDK runs
                # nodes as soon as its stream is read, before its first event could be
                # flushed, so it commits on its own (a function commits it with its
                # `initiated`, before calling the function).
                recorder.flush()
                return run_sdk_workflow(
                    entrypoint,
                    identity,
                    inputs,
                    previous_execution_id=run.previous_execution_id,
                    timeout_seconds=release.timeout_seconds,
                    stopper=handle.stopper,
                    emit=recorder.emit,
                    load_state=lambda ex: self._load_state(run.workspace_id, ex),
                )
            previous = None
            if run.previous_execution_id is not None:
                resolved = self._load_state(run.workspace_id, run.previous_execution_id)
                previous = resolved.state if resolved is not None else None
            return run_function(
                entrypoint,
                identity,
                inputs,
                previous_state=previous,
                stopper=handle.stopper,
                emit=recorder.emit,
                flush=recorder.flush,
            )
        finally:
            if timer is not None:
                timer.cancel()

    def _close_broken(
        self, handle: RunHandle, recorder: EventRecorder, error: BaseException
    ) -> Outcome:
        message = f"the runtime failed: {error}"
        stack = "".join(traceback.format_exception(error))
        event_id = None
        try:
            identity = self._identity(handle)
            rejected = identity.rejected(message, INTERNAL_ERROR, stacktrace=stack)
            recorder.emit(rejected)
            event_id = rejected["id"]
        except Exception:
            log.exception("could not record the rejection of a broken run")
        error_body = {"message": message, "code": INTERNAL_ERROR}
        return Outcome("REJECTED", {}, error_body, _now(), event_id)

    # --- after a crash -------------------------------------------------------------------

    def recover(self) -> tuple[int, int]:
        """Deal with what a crash left: (runs queued again, runs closed as REJECTED)."""
        queued = closed = 0
        for run in list(self.runs.unfinished(self.replica)):
            if self.handle(run.id) is not None:
                continue
            if not run.started:
                handle = RunHandle(run)
                if run.cancelled is not None:  # it then records itself as cancelled
                    code, message, at = run.cancelled
                    handle.stopper.stop_as(StopReason(code, message, datetime.fromisoformat(at)))
                self._queue(handle)
                queued += 1
                continue
            identity = self._identity(RunHandle(run))
            message = (
                "the server stopped while this execution was in flight; "
                f"it was closed when the server started again on replica {self.replica!r}"
            )
            recorder = EventRecorder(self._ledger, run.workspace_id, [], self._on_append)
            recorder.emit(identity.rejected(message, INTERNAL_ERROR))
            run.finish("REJECTED")
            recorder.attach(run)
            recorder.flush()
            closed += 1
        if queued or closed:
            log.info("recovered runs", extra={"queued": queued, "closed": closed})
        return queued, closed

    # --- housekeeping --------------------------------------------------------------------

    def load(self) -> RuntimeLoad:
        """How busy this process's workers are, and how its runs ended so far."""
        with self._lock:
            # A run has a recorder from the moment a worker takes it until it has ended.
            running = len(self._recorders)
            return RuntimeLoad(
                workers=self._workers,
                queued=len(self._handles) - running,
                running=running,
                finished=dict(self._finished),
            )

    def _flush_loop(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS / 2):
            with self._lock:
                recorders = list(self._recorders.values())
            for recorder in recorders:
                try:
                    recorder.flush_if_due()
                except Exception:
                    log.exception("could not flush a run's events")

    def close(self, wait_seconds: float = 10.0) -> None:
        """Stop accepting; runs still in flight are stopped and recorded as such."""
        self._stop.set()
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            handle.stopper.stop(INTERNAL_ERROR, "the server shut down while the run was in flight")
        # Runs still queued stay unstarted in the log: the next start queues them again.
        self._pool.shutdown(wait=False, cancel_futures=True)
        for handle in handles:
            if handle.run.started:
                handle.wait(wait_seconds)
        self._flusher.join(wait_seconds)


def _now() -> datetime:
    return datetime.now(UTC)
