"""Entrypoints the runtime tests deploy: plain functions traced with OpenTelemetry, and SDK
workflows (besides those of tests/sdk_workflows.py) that keep state across runs."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from opentelemetry import trace
from vellum.client.types import ChatMessage
from vellum.workflows import BaseWorkflow
from vellum.workflows.inputs import BaseInputs
from vellum.workflows.nodes import BaseNode
from vellum.workflows.state import BaseState

from runtime.nodes import node

_tracer = trace.get_tracer("tests.runtime")


@node
def _tokenize(text: str) -> list[str]:
    with _tracer.start_as_current_span("model call") as span:
        # What an instrumented LLM client records (OpenTelemetry GenAI conventions).
        span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        span.set_attribute("gen_ai.usage.input_tokens", 12)
        span.set_attribute("gen_ai.usage.output_tokens", 3)
    return text.split()


@node
def _count(words: list[str]) -> int:
    return len(words)


@node(name="analyse")
def _analyse(text: str) -> dict[str, Any]:
    words = _tokenize(text)
    return {"words": words, "count": _count(words)}


def summarize(text: str, limit: int = 3) -> dict[str, Any]:
    """Three levels of nodes and a raw span with GenAI usage inside."""
    analysis = _analyse(text)
    return {"summary": " ".join(analysis["words"][:limit]), "count": analysis["count"]}


def explode(text: str) -> dict[str, Any]:
    """Fails in user code."""
    _count(text.split())
    raise ValueError(f"cannot handle {text!r}")


def too_deep(levels: int) -> dict[str, Any]:
    """Returns outputs nested deeper than the log accepts (domain.envelope.MAX_NESTING)."""
    value: Any = "leaf"
    for _ in range(levels):
        value = {"inner": value}
    return {"tree": value}


def slow(seconds: float) -> dict[str, Any]:
    """Pure-Python waiting, so a stop takes effect at once."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)
    return {"slept": seconds}


def counter(step: int, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Continues from the previous execution's outputs when given one."""
    previous = (state or {}).get("outputs", {}).get("total", 0)
    return {"total": previous + step}


async def shout(text: str) -> str:
    """An async function with a node inside."""
    await asyncio.sleep(0)
    return str(_upper(text))


@node
def _upper(text: str) -> str:
    return text.upper()


@node
def _noop(index: int) -> int:
    return index


def ten_nodes() -> dict[str, Any]:
    """The runtime benchmark's no-op workflow: ten node spans that do nothing."""
    return {"count": sum(1 for i in range(10) if _noop(i) == i)}


class TallyInputs(BaseInputs):
    step: int


class TallyState(BaseState):
    total: int = 0


class Add(BaseNode[TallyState]):
    step = TallyInputs.step

    class Outputs(BaseNode.Outputs):
        total: int

    def run(self) -> Outputs:
        self.state.total += self.step
        return self.Outputs(total=self.state.total)


class TallyWorkflow(BaseWorkflow[TallyInputs, TallyState]):
    """An SDK workflow whose state carries over with `previous_execution_id`."""

    graph = Add

    class Outputs(BaseWorkflow.Outputs):
        total = Add.Outputs.total


class SlowInputs(BaseInputs):
    seconds: float


class Wait(BaseNode[BaseState]):
    seconds = SlowInputs.seconds

    class Outputs(BaseNode.Outputs):
        slept: float

    def run(self) -> Outputs:
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            time.sleep(0.01)
        return self.Outputs(slept=self.seconds)


class SlowWorkflow(BaseWorkflow[SlowInputs, BaseState]):
    """An SDK workflow that takes as long as asked: for timeouts and cancellation."""

    graph = Wait

    class Outputs(BaseWorkflow.Outputs):
        slept = Wait.Outputs.slept


def inspect_inputs(
    payload: dict[str, Any], chat: list[ChatMessage], ratio: float, note: str | None = None
) -> dict[str, Any]:
    """Takes one input of each Vellum type and reports what arrived, as Python values."""
    return {
        "payload_keys": sorted(payload),
        "last_message": chat[-1].text,
        "chat_is_messages": all(isinstance(m, ChatMessage) for m in chat),
        "ratio": ratio * 2,
        "note": note,
    }
