"""The Vellum parent contexts and workflow events the runtime writes itself.

An SDK workflow emits its own events; a plain function's run, a run cancelled before it
started and a run a crash left open get theirs from here, in the same wire shape. Every run's
root span has a `WORKFLOW_RELEASE_TAG` parent (Vellum's `WorkflowDeploymentParentContext`):
the deployment, the release and the tag that ran it, its `external_id` and `metadata`, on every
event of the run, forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from domain.otel_mapping import API_VERSION
from domain.vocabulary import DEPLOYMENT_CONTEXT_TYPE

Event = dict[str, Any]

_DEFINITIONS = uuid5(NAMESPACE_URL, "https://runledger.dev/definitions")


def iso(moment: datetime) -> str:
    """ISO-8601 in UTC with a `Z`, as the SDK writes timestamps."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def definition(reference: str, name: str) -> dict[str, Any]:
    """A `VellumCodeResourceDefinition`: the same entrypoint always has the same id."""
    module = reference.partition(":")[0]
    return {"id": str(uuid5(_DEFINITIONS, reference)), "name": name, "module": module.split(".")}


@dataclass(frozen=True, slots=True)
class RunIdentity:
    """What every event of one run carries."""

    execution_id: UUID
    trace_id: UUID
    deployment_context: dict[str, Any]
    workflow_definition: dict[str, Any]

    @property
    def workflow_context(self) -> dict[str, Any]:
        """The parent context of the run's top-level node spans."""
        return {
            "type": "WORKFLOW",
            "span_id": str(self.execution_id),
            "workflow_definition": self.workflow_definition,
            "parent": self.deployment_context,
        }

    def workflow_event(self, name: str, body: dict[str, Any], at: datetime | None = None) -> Event:
        """A `workflow.execution.<name>` event of the run's root span."""
        return {
            "id": str(uuid4()),
            "name": f"workflow.execution.{name}",
            "timestamp": iso(at or datetime.now(UTC)),
            "api_version": API_VERSION,
            "trace_id": str(self.trace_id),
            "span_id": str(self.execution_id),
            "parent": self.deployment_context,
            "links": None,
            "body": {"workflow_definition": self.workflow_definition, **body},
        }

    def rejected(
        self,
        message: str,
        code: str,
        stacktrace: str | None = None,
        raw_data: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> Event:
        """The run's `workflow.execution.rejected` event."""
        error = {"message": message, "code": code, "raw_data": raw_data, "stacktrace": stacktrace}
        return self.workflow_event("rejected", {"error": error, "stacktrace": stacktrace}, at)


def deployment_context(
    *,
    execution_id: UUID,
    deployment_id: UUID,
    deployment_name: str,
    release_id: UUID,
    release_tag: str,
    external_id: str | None,
    metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """Vellum's `WorkflowDeploymentParentContext` for a run of a release."""
    return {
        "type": DEPLOYMENT_CONTEXT_TYPE,
        "span_id": str(uuid5(execution_id, "deployment")),
        "parent": None,
        "deployment_id": str(deployment_id),
        "deployment_name": deployment_name,
        "deployment_history_item_id": str(release_id),
        "release_tag_id": str(uuid5(deployment_id, release_tag)),
        "release_tag_name": release_tag,
        "external_id": external_id,
        "metadata": metadata,
        "workflow_version_id": str(release_id),
    }
