"""Running a Vellum Workflows SDK workflow: the SDK's own events, recorded as they come.

The SDK is given the run's execution id (its root span id), trace id and deployment parent
context, the cancel signal and the release's timeout; sub-workflows, map nodes and parallel
branches emit their events through the same stream. `previous_execution_id` loads the final
state of that execution through a resolver that reads Runledger's own projections.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from vellum.workflows.context import ExecutionContext
from vellum.workflows.events.types import WorkflowDeploymentParentContext
from vellum.workflows.resolvers.resolver import VellumResolver
from vellum.workflows.resolvers.types import LoadStateResult
from vellum.workflows.state.context import WorkflowContext
from vellum.workflows.workflows.event_filters import all_workflow_event_filter

from domain.state import ResolvedState
from runtime.contexts import RunIdentity
from runtime.entrypoints import Entrypoint
from runtime.handles import Outcome
from runtime.stopping import Stopper

StateLoader = Callable[[UUID], ResolvedState | None]


class LedgerResolver(VellumResolver):
    """The SDK's own resolver, reading state from this Runledger instead of over HTTP."""

    def __init__(self, load: StateLoader) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # the SDK's is unannotated
        self._load = load

    def load_state(self, previous_execution_id: UUID | str | None = None) -> LoadStateResult | None:
        if previous_execution_id is None:
            return None
        resolved = self._load(UUID(str(previous_execution_id)))
        if resolved is None or self._workflow_class is None:
            return None
        state = {k: v for k, v in resolved.state.items() if k != "meta"}
        return LoadStateResult(
            state=self._deserialize_state(state, self._workflow_class.get_state_class()),
            previous_trace_id=str(resolved.trace_id),
            previous_span_id=str(resolved.span_id),
            root_trace_id=str(resolved.root_trace_id or resolved.trace_id),
            root_span_id=str(resolved.root_span_id or resolved.span_id),
        )


def run_sdk_workflow(
    entrypoint: Entrypoint,
    identity: RunIdentity,
    inputs: dict[str, Any],
    *,
    previous_execution_id: UUID | None,
    timeout_seconds: float | None,
    stopper: Stopper,
    emit: Callable[[dict[str, Any]], None],
    load_state: StateLoader,
) -> Outcome:
    """Run the workflow to its end, emitting every event; the outcome of its root span."""
    parent = WorkflowDeploymentParentContext.model_validate(identity.deployment_context)
    context = WorkflowContext(
        execution_context=ExecutionContext(trace_id=identity.trace_id, parent_context=parent)
    )
    workflow = entrypoint.target(context=context, resolvers=[LedgerResolver(load_state)])
    stream = workflow.stream(
        inputs=entrypoint.target.get_inputs_class()(**inputs),
        execution_id=identity.execution_id,
        previous_execution_id=previous_execution_id,
        cancel_signal=stopper.signal,
        timeout=timeout_seconds,
        event_filter=all_workflow_event_filter,
    )
    outcome: Outcome | None = None
    root = str(identity.execution_id)
    for event in stream:
        wire = event.model_dump(mode="json")
        emit(wire)
        if wire["span_id"] != root:
            continue
        if wire["name"] == "workflow.execution.fulfilled":
            outputs = wire["body"].get("outputs") or {}
            outcome = Outcome("FULFILLED", outputs, None, _now(), wire["id"])
        elif wire["name"] == "workflow.execution.rejected":
            outcome = Outcome("REJECTED", {}, _error(wire["body"]), _now(), wire["id"])
    if outcome is None:
        raise RuntimeError("the workflow's event stream ended without a terminal event")
    return outcome


def _error(body: dict[str, Any]) -> dict[str, Any]:
    error = dict(body.get("error") or {})
    if body.get("stacktrace") and not error.get("stacktrace"):
        error["stacktrace"] = body["stacktrace"]
    return error


def _now() -> datetime:
    return datetime.now(UTC)
