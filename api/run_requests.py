"""The execute endpoints' request bodies, checked whole: every bad field is named at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from domain.errors import FieldError, InvalidInputs
from domain.vellum_values import plain_inputs, typed_inputs

EVENT_TYPES = frozenset({"WORKFLOW", "NODE"})


@dataclass(frozen=True, slots=True)
class ExecuteBody:
    """What an execute request asks for."""

    deployment: str
    release_tag: str | None
    inputs: dict[str, tuple[Any, str | None]]
    external_id: str | None
    metadata: dict[str, Any] | None
    previous_execution_id: UUID | None
    event_types: frozenset[str]


def _optional_str(body: dict[str, Any], name: str, errors: list[FieldError]) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.append(FieldError(None, name, "must be a non-empty string"))
        return None
    return value


def parse_execute_body(raw: bytes, *, deployment: str | None, native: bool) -> ExecuteBody:
    """Check an execute body; `deployment` comes from the path for the native endpoint.

    Vellum's endpoints send typed inputs (`[{"name", "type", "value"}]`); the native
    execute-stream sends `{name: value}`.
    """
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as error:
        raise InvalidInputs([FieldError(None, "body", f"is not JSON: {error}")]) from None
    if not isinstance(body, dict):
        raise InvalidInputs([FieldError(None, "body", "must be a JSON object")])
    errors: list[FieldError] = []
    if deployment is None:
        by_id = _optional_str(body, "workflow_deployment_id", errors)
        by_name = _optional_str(body, "workflow_deployment_name", errors)
        deployment = by_id or by_name
        if deployment is None and not errors:
            errors.append(
                FieldError(
                    None,
                    "workflow_deployment_id",
                    "workflow_deployment_id or workflow_deployment_name is required",
                )
            )
    release_tag = _optional_str(body, "release_tag", errors)
    external_id = _optional_str(body, "external_id", errors)
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        errors.append(FieldError(None, "metadata", "must be an object"))
        metadata = None
    previous: UUID | None = None
    raw_previous = body.get("previous_execution_id")
    if raw_previous is not None:
        try:
            previous = UUID(str(raw_previous))
        except ValueError:
            errors.append(FieldError(None, "previous_execution_id", "must be a UUID"))
    event_types = body.get("event_types") or ["WORKFLOW"]
    if not isinstance(event_types, list) or not all(
        isinstance(kind, str) and kind in EVENT_TYPES for kind in event_types
    ):
        errors.append(FieldError(None, "event_types", "must be a list of WORKFLOW and NODE"))
        event_types = ["WORKFLOW"]
    inputs: dict[str, tuple[Any, str | None]] = {}
    try:
        inputs = (
            plain_inputs(body.get("inputs")) if native else typed_inputs(body.get("inputs", []))
        )
    except InvalidInputs as invalid:
        errors.extend(invalid.errors)
    if errors:
        raise InvalidInputs(errors)
    assert deployment is not None
    return ExecuteBody(
        deployment=deployment,
        release_tag=release_tag,
        inputs=inputs,
        external_id=external_id,
        metadata=metadata,
        previous_execution_id=previous,
        event_types=frozenset(event_types),
    )
