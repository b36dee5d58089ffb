"""Running a plain Python function as a workflow, its OpenTelemetry spans as node spans.

The runtime writes the run's own `workflow.execution.*` events; every span started inside the
function (by `@runtime.nodes.node`, or by any OpenTelemetry instrumentation) becomes a node
span through the bridge. A dict return value is the outputs mapping; anything else is the one
output `value`. A parameter named `state` receives the previous execution's final state when
the run names a `previous_execution_id`; the run's own final state (inputs and outputs) is
recorded as a `workflow.execution.snapshotted` event, so a later run can continue from it.
"""

from __future__ import annotations

import asyncio
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from runtime.contexts import RunIdentity
from runtime.entrypoints import Entrypoint
from runtime.handles import Outcome
from runtime.otel import NodeEventBridge, RunContext
from runtime.stopping import RunStopped, Stopper

# One bridge per process, on the one global provider; a dict, so no `global` is needed.
_shared: dict[str, NodeEventBridge] = {}
_shared_lock = threading.Lock()


def shared_bridge() -> NodeEventBridge:
    """The process's bridge, on the global tracer provider that user code's tracers use.

    A provider the application installed itself is kept (the bridge joins its processors);
    otherwise Runledger installs an opentelemetry-sdk `TracerProvider`.
    """
    with _shared_lock:
        if "bridge" not in _shared:
            provider = trace.get_tracer_provider()
            if not isinstance(provider, TracerProvider):
                provider = TracerProvider()
                trace.set_tracer_provider(provider)
            bridge = NodeEventBridge()
            provider.add_span_processor(bridge)
            _shared["bridge"] = bridge
        return _shared["bridge"]


def _json_safe(value: Any) -> Any:
    # What orjson cannot encode goes out as its repr rather than failing the run at its end.
    return orjson.loads(orjson.dumps(value, default=repr))


def _call(entrypoint: Entrypoint, kwargs: dict[str, Any], stopper: Stopper) -> Any:
    if not entrypoint.is_async:
        stopper.attach_thread(threading.get_ident())
        try:
            return entrypoint.target(**kwargs)
        finally:
            stopper.detach()

    async def main() -> Any:
        task = asyncio.ensure_future(entrypoint.target(**kwargs))
        stopper.attach_task(asyncio.get_running_loop(), cast("asyncio.Task[object]", task))
        try:
            return await task
        except asyncio.CancelledError:
            if stopper.reason is not None:
                raise RunStopped() from None
            raise
        finally:
            stopper.detach()

    return asyncio.run(main())


def run_function(
    entrypoint: Entrypoint,
    identity: RunIdentity,
    inputs: dict[str, Any],
    *,
    previous_state: dict[str, Any] | None,
    stopper: Stopper,
    emit: Callable[[dict[str, Any]], None],
    flush: Callable[[], None],
) -> Outcome:
    """Run the function to its end (or its stop), emitting the run's events."""
    recorded = _json_safe(inputs)
    emit(identity.workflow_event("initiated", {"inputs": recorded}))
    flush()  # the run shows as INITIATED while it works
    kwargs = dict(inputs)
    if entrypoint.accepts_state:
        kwargs["state"] = previous_state
    bridge = shared_bridge()
    context = RunContext(identity.execution_id, identity.trace_id, identity.workflow_context, emit)
    result: Any = None
    failure: BaseException | None = None
    try:
        with bridge.bound(context):
            result = _call(entrypoint, kwargs, stopper)
    except (Exception, RunStopped) as error:
        failure = error
    reason = stopper.reason
    if reason is not None:
        # Stopped, whether or not the stop arrived before the code returned.
        raw = {"stopped_at": reason.at.isoformat()}
        stopped = identity.rejected(reason.message, reason.code, raw_data=raw, at=reason.at)
        emit(stopped)
        why = {"message": reason.message, "code": reason.code}
        return Outcome("REJECTED", {}, why, reason.at, stopped["id"])
    if failure is not None:
        message = str(failure) or type(failure).__name__
        stack = "".join(traceback.format_exception(failure))
        rejected = identity.rejected(message, "USER_DEFINED_ERROR", stacktrace=stack)
        emit(rejected)
        details = {"message": message, "code": "USER_DEFINED_ERROR", "stacktrace": stack}
        return Outcome("REJECTED", {}, details, datetime.now(UTC), rejected["id"])
    outputs = _json_safe(result if isinstance(result, dict) else {"value": result})
    state = {
        "meta": {"span_id": str(identity.execution_id)},
        "inputs": recorded,
        "outputs": outputs,
    }
    emit(identity.workflow_event("snapshotted", {"state": state}))
    fulfilled = identity.workflow_event("fulfilled", {"outputs": outputs})
    emit(fulfilled)
    return Outcome("FULFILLED", outputs, None, datetime.now(UTC), fulfilled["id"])
