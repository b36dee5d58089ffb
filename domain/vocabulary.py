"""The Vellum event names Runledger records, and the groups the rules talk about."""

from __future__ import annotations

from enum import StrEnum


class EventName(StrEnum):
    """The 14 event names of Vellum's workflow event vocabulary."""

    WORKFLOW_INITIATED = "workflow.execution.initiated"
    WORKFLOW_STREAMING = "workflow.execution.streaming"
    WORKFLOW_FULFILLED = "workflow.execution.fulfilled"
    WORKFLOW_REJECTED = "workflow.execution.rejected"
    WORKFLOW_PAUSED = "workflow.execution.paused"
    WORKFLOW_RESUMED = "workflow.execution.resumed"
    WORKFLOW_SNAPSHOTTED = "workflow.execution.snapshotted"
    NODE_INITIATED = "node.execution.initiated"
    NODE_STREAMING = "node.execution.streaming"
    NODE_FULFILLED = "node.execution.fulfilled"
    NODE_REJECTED = "node.execution.rejected"
    NODE_PAUSED = "node.execution.paused"
    NODE_RESUMED = "node.execution.resumed"
    NODE_LOG = "node.execution.log"

    @property
    def is_workflow(self) -> bool:
        """True for the `workflow.execution.*` names."""
        return self.value.startswith("workflow.")


EVENT_NAMES: frozenset[str] = frozenset(name.value for name in EventName)

# The parent-context type that names a workflow span; the outermost one in an event's
# parent chain is the execution the event belongs to (DESIGN.md §2, "Identity").
WORKFLOW_CONTEXT_TYPE = "WORKFLOW"

# The parent-context type of an execution a deployment's release ran (Vellum's
# `WorkflowDeploymentParentContext`): it names the deployment, release, tag, external id and
# metadata, which is how an ingested execution is listed under its deployment.
DEPLOYMENT_CONTEXT_TYPE = "WORKFLOW_RELEASE_TAG"
