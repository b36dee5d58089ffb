"""Real Vellum Workflows SDK workflows, run in-process, whose events tests post to Runledger.

Each workflow exercises one shape of event stream the SDK really emits: a chain, a rejection,
a fan-out that runs in parallel threads, an inline sub-workflow (events with a WORKFLOW
context nested inside another) and a map node (one sub-workflow execution per item, run
concurrently). `run_workflow_events` returns the wire form of every event of one run, node
and sub-workflow events included.
"""

import threading
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter
from vellum.client.types import WorkflowEvent
from vellum.workflows import BaseWorkflow
from vellum.workflows.errors.types import WorkflowErrorCode
from vellum.workflows.exceptions import NodeException
from vellum.workflows.inputs import BaseInputs
from vellum.workflows.nodes import BaseNode, InlineSubworkflowNode, MapNode
from vellum.workflows.state import BaseState
from vellum.workflows.types.core import MergeBehavior
from vellum.workflows.workflows.event_filters import all_workflow_event_filter

Event = dict[str, Any]

# Both parallel branches wait here for each other, so ParallelWorkflow only completes when the
# SDK really runs them at the same time (a sequential run breaks the barrier and fails).
_BRANCH_BARRIER = threading.Barrier(2, timeout=10)


# --- linear: three nodes in a chain ---------------------------------------------------------


class LinearInputs(BaseInputs):
    text: str


class Strip(BaseNode[BaseState]):
    text = LinearInputs.text

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=self.text.strip())


class Upper(BaseNode[BaseState]):
    text = Strip.Outputs.result

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=self.text.upper())


class Exclaim(BaseNode[BaseState]):
    text = Upper.Outputs.result

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=f"{self.text}!")


class LinearWorkflow(BaseWorkflow[LinearInputs, BaseState]):
    graph = Strip >> Upper >> Exclaim

    class Outputs(BaseWorkflow.Outputs):
        result = Exclaim.Outputs.result


# --- failing: the second node raises, so the workflow is rejected ---------------------------


class FailingInputs(BaseInputs):
    text: str


class FailingStrip(BaseNode[BaseState]):
    text = FailingInputs.text

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=self.text.strip())


class Explode(BaseNode[BaseState]):
    text = FailingStrip.Outputs.result

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        raise NodeException(
            message=f"refusing to process {self.text!r}", code=WorkflowErrorCode.USER_DEFINED_ERROR
        )


class FailingWorkflow(BaseWorkflow[FailingInputs, BaseState]):
    graph = FailingStrip >> Explode

    class Outputs(BaseWorkflow.Outputs):
        result = Explode.Outputs.result


# --- parallel: a fan-out to two concurrent branches joined by a final node ------------------


class ParallelInputs(BaseInputs):
    text: str


class Fork(BaseNode[BaseState]):
    text = ParallelInputs.text

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=self.text.strip())


class LeftBranch(BaseNode[BaseState]):
    text = Fork.Outputs.result

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        _BRANCH_BARRIER.wait()
        return self.Outputs(result=self.text.upper())


class RightBranch(BaseNode[BaseState]):
    text = Fork.Outputs.result

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        _BRANCH_BARRIER.wait()
        return self.Outputs(result=self.text[::-1])


class Join(BaseNode[BaseState]):
    left = LeftBranch.Outputs.result
    right = RightBranch.Outputs.result

    class Trigger(BaseNode.Trigger):
        merge_behavior = MergeBehavior.AWAIT_ALL

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=f"{self.left}|{self.right}")


class ParallelWorkflow(BaseWorkflow[ParallelInputs, BaseState]):
    graph = Fork >> {LeftBranch, RightBranch} >> Join

    class Outputs(BaseWorkflow.Outputs):
        result = Join.Outputs.result


# --- nested: an inline sub-workflow with nodes of its own -----------------------------------


class InnerInputs(BaseInputs):
    text: str


class InnerUpper(BaseNode[BaseState]):
    text = InnerInputs.text

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=self.text.upper())


class InnerExclaim(BaseNode[BaseState]):
    text = InnerUpper.Outputs.result

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=f"{self.text}!")


class InnerWorkflow(BaseWorkflow[InnerInputs, BaseState]):
    graph = InnerUpper >> InnerExclaim

    class Outputs(BaseWorkflow.Outputs):
        result = InnerExclaim.Outputs.result


class NestedInputs(BaseInputs):
    text: str


class OuterStrip(BaseNode[BaseState]):
    text = NestedInputs.text

    class Outputs(BaseNode.Outputs):
        result: str

    def run(self) -> Outputs:
        return self.Outputs(result=self.text.strip())


class Subworkflow(InlineSubworkflowNode[BaseState, InnerInputs, BaseState]):
    subworkflow = InnerWorkflow
    text = OuterStrip.Outputs.result


class NestedWorkflow(BaseWorkflow[NestedInputs, BaseState]):
    graph = OuterStrip >> Subworkflow

    class Outputs(BaseWorkflow.Outputs):
        result = Subworkflow.Outputs.result


# --- map: one sub-workflow execution per item, run concurrently ------------------------------


class MapInputs(BaseInputs):
    count: int


class MakeItems(BaseNode[BaseState]):
    count = MapInputs.count

    class Outputs(BaseNode.Outputs):
        items: list[int]

    def run(self) -> Outputs:
        return self.Outputs(items=list(range(self.count)))


class Square(BaseNode[BaseState]):
    item = MapNode.SubworkflowInputs.item

    class Outputs(BaseNode.Outputs):
        result: int

    def run(self) -> Outputs:
        value: int = self.item
        return self.Outputs(result=value * value)


class SquareWorkflow(BaseWorkflow[MapNode.SubworkflowInputs, BaseState]):
    graph = Square

    class Outputs(BaseWorkflow.Outputs):
        result = Square.Outputs.result


class SquareEach(MapNode[BaseState, int]):
    items = MakeItems.Outputs.items
    subworkflow = SquareWorkflow


class MapWorkflow(BaseWorkflow[MapInputs, BaseState]):
    graph = MakeItems >> SquareEach

    class Outputs(BaseWorkflow.Outputs):
        result = SquareEach.Outputs.result


# --- running them ------------------------------------------------------------------------------


def run_workflow_events(workflow_cls: type[BaseWorkflow[Any, Any]], **inputs: Any) -> list[Event]:
    """The wire form of every event of one run (workflow, node and sub-workflow), as emitted."""
    if workflow_cls is ParallelWorkflow:
        _BRANCH_BARRIER.reset()
    workflow = workflow_cls()
    stream = workflow.stream(
        inputs=workflow_cls.get_inputs_class()(**inputs),
        event_filter=all_workflow_event_filter,
    )
    return [event.model_dump(mode="json") for event in stream]


_WORKFLOW_EVENT: TypeAdapter[WorkflowEvent] = TypeAdapter(WorkflowEvent)


def to_models(events: list[Event]) -> list[WorkflowEvent]:
    """The events as vellum-ai client models: posting those is fast, posting dicts is not."""
    return [_WORKFLOW_EVENT.validate_python(event) for event in events]


SDK_WORKFLOWS: dict[str, Callable[[], list[Event]]] = {
    "linear": lambda: run_workflow_events(LinearWorkflow, text="  hello  "),
    "failing": lambda: run_workflow_events(FailingWorkflow, text="  boom  "),
    "parallel": lambda: run_workflow_events(ParallelWorkflow, text=" fan out "),
    "nested": lambda: run_workflow_events(NestedWorkflow, text=" nested "),
    "map": lambda: run_workflow_events(MapWorkflow, count=20),
}
"""Zero-argument runs of each workflow, keyed by a readable id for parametrized tests."""


def map_still_running() -> list[Event]:
    """The first two thirds of a map run's events, as the log holds them mid-run: some
    iterations done, some started, the workflow not ended."""
    events = SDK_WORKFLOWS["map"]()
    return events[: len(events) * 2 // 3]


SDK_RUNS_AND_ONE_RUNNING: dict[str, Callable[[], list[Event]]] = {
    **SDK_WORKFLOWS,
    "running": map_still_running,
}
"""The runs above, and one still running, for reads that must show each state."""


def _has_workflow_context(parent: Mapping[str, Any] | None) -> bool:
    while parent is not None:
        if parent.get("type") == "WORKFLOW":
            return True
        parent = parent.get("parent")
    return False


def root_execution(events: list[Event]) -> UUID:
    """The span of the run's outermost `workflow.execution.initiated`: no WORKFLOW above it."""
    roots = [
        e
        for e in events
        if e["name"] == "workflow.execution.initiated" and not _has_workflow_context(e["parent"])
    ]
    assert len(roots) == 1, [e["span_id"] for e in roots]
    return UUID(roots[0]["span_id"])
