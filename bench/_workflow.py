"""A tiny Vellum Workflows SDK workflow whose emitted events seed the benchmark."""

from __future__ import annotations

from vellum.workflows import BaseWorkflow
from vellum.workflows.emitters.base import BaseWorkflowEmitter
from vellum.workflows.emitters.vellum_emitter import DISALLOWED_EVENTS
from vellum.workflows.events.workflow import WorkflowEvent
from vellum.workflows.inputs import BaseInputs
from vellum.workflows.nodes import BaseNode
from vellum.workflows.state import BaseState

from domain.envelope import Json


class RecordingEmitter(BaseWorkflowEmitter):
    """Keeps, in wire form, exactly the events `VellumEmitter` would post."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # the SDK leaves it untyped
        self.events: list[Json] = []

    def emit_event(self, event: WorkflowEvent) -> None:
        if event.name not in DISALLOWED_EVENTS:
            self.events.append(event.model_dump(mode="json"))

    def snapshot_state(self, state: BaseState) -> None:
        # VellumEmitter sends nothing here either; snapshots arrive as `snapshotted` events.
        pass

    def join(self) -> None:
        pass


class Inputs(BaseInputs):
    question: str


class Retrieve(BaseNode):  # type: ignore[type-arg]
    question = Inputs.question

    class Outputs(BaseNode.Outputs):
        documents: list[str]

    def run(self) -> Retrieve.Outputs:
        return self.Outputs(
            documents=[f"passage {n} on {self.question}: once logged, it stays." for n in range(3)]
        )


class Answer(BaseNode):  # type: ignore[type-arg]
    documents = Retrieve.Outputs.documents

    class Outputs(BaseNode.Outputs):
        answer: str

    def run(self) -> Answer.Outputs:
        return self.Outputs(answer="From the passages: " + " ".join(self.documents))


class QuestionAnswer(BaseWorkflow[Inputs, BaseState]):
    graph = Retrieve >> Answer

    class Outputs(BaseWorkflow.Outputs):
        answer = Answer.Outputs.answer


def run_question_answer(question: str) -> list[Json]:
    """Run the workflow once; the events its emitter received, in order."""
    emitter = RecordingEmitter()
    workflow = QuestionAnswer(emitters=[emitter])
    final = workflow.run(inputs=Inputs(question=question))
    # Emitters are fed from a background thread; join waits until it has drained.
    workflow.join()
    if final.name != "workflow.execution.fulfilled":
        raise RuntimeError(f"the seed workflow did not complete: {final.name}")
    return emitter.events
