"""What an execution is of and who asked for it, the same for every view that names it.

A run the runtime made says it in its request (its deployment, release, tag, external id and
metadata); an ingested execution says it in its root span's parent context, when a Vellum
deployment ran it (`WORKFLOW_RELEASE_TAG`). Velt's and Datalab's reads (api/velt_shapes.py,
api/datalab_shapes.py) shape their headers from an `Origin`, and the list shows the same fields
from the index the same two sources fill (migration 0013).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from domain.vocabulary import DEPLOYMENT_CONTEXT_TYPE
from projections.queries import RunView


@dataclass(frozen=True, slots=True)
class Origin:
    """The workflow, deployment and release of an execution, and its caller's references."""

    workflow: str | None
    """The workflow definition's name (None for a run no worker has started yet)."""
    deployment_id: UUID | None
    deployment: str | None
    """The deployment's name."""
    release_id: UUID | None
    release_tag: str | None
    external_id: str | None
    metadata: dict[str, Any] | None
    release_version: int | None = None
    """The release's version number in its deployment (1 for the first release), when the
    deployment is registered here; None otherwise (an ingested execution of a Vellum
    deployment names its release only by id)."""


def run_origin(run: RunView, workflow: str | None) -> Origin:
    """The origin a run's request records (its deployment's name is looked up apart)."""
    return Origin(
        workflow=workflow,
        deployment_id=run.deployment_id,
        deployment=None,
        release_id=run.release_id,
        release_tag=run.release_tag,
        external_id=run.external_id,
        metadata=run.metadata,
    )


def ingested_origin(parent_context: str, workflow: str | None) -> Origin:
    """The origin an ingested execution's root parent context names; only the workflow when
    it names no deployment (or is not readable as one)."""
    plain = Origin(workflow, None, None, None, None, None, None)
    try:
        parent = orjson.loads(parent_context) if parent_context else None
    except orjson.JSONDecodeError:
        return plain
    if not isinstance(parent, dict) or parent.get("type") != DEPLOYMENT_CONTEXT_TYPE:
        return plain
    metadata = parent.get("metadata")
    return Origin(
        workflow=workflow,
        deployment_id=_uuid(parent.get("deployment_id")),
        deployment=_text(parent.get("deployment_name")),
        release_id=_uuid(parent.get("deployment_history_item_id")),
        release_tag=_text(parent.get("release_tag_name")),
        external_id=_text(parent.get("external_id")),
        metadata=metadata if isinstance(metadata, dict) else None,
    )


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
