"""A run's inputs checked against what its entrypoint declares.

Requests carry inputs in the wire shapes of domain/vellum_values.py (Vellum's typed values, or
the native execute-stream's plain object); here they are checked against the entrypoint's
declared inputs, every problem reported at once, one error per input, and turned into the
Python values the entrypoint expects.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from vellum.client.types import ChatMessage

from domain.errors import FieldError, InvalidInputs
from domain.vellum_values import VellumType
from runtime.entrypoints import Entrypoint, InputSpec

_CHAT_HISTORY: TypeAdapter[list[ChatMessage]] = TypeAdapter(list[ChatMessage])
_MISSING = object()


def _check(spec: InputSpec, value: Any, sent_type: str | None) -> tuple[Any, str | None]:
    """The JSON value to record for one input, or the reason it is refused."""
    # A JSON input takes a value of any Vellum type; the others take their own type only.
    mismatched = sent_type is not None and sent_type != spec.type.value
    if mismatched and not (spec.type is VellumType.JSON and sent_type in VellumType.__members__):
        return None, f"must be of type {spec.type.value}, got {sent_type}"
    if value is None:
        return (None, None) if not spec.required else (None, "must not be null")
    if spec.type is VellumType.STRING and not isinstance(value, str):
        return None, f"must be a string, got {type(value).__name__}"
    if spec.type is VellumType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, f"must be a number, got {type(value).__name__}"
        if not math.isfinite(value):
            return None, "must be a finite number"
        if int in (spec.python_type, _optional_of(spec.python_type)) and value != int(value):
            return None, f"must be a whole number, got {value}"
    if spec.type is VellumType.JSON:
        expected = _json_kind(spec.python_type)
        if expected is not None and not isinstance(value, expected[0]):
            return None, f"must be {expected[1]}, got {type(value).__name__}"
    if spec.type is VellumType.CHAT_HISTORY:
        try:
            _CHAT_HISTORY.validate_python(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return None, f"is not a chat history ({where}: {first['msg']})"
    return value, None


def _json_kind(annotation: Any) -> tuple[type | tuple[type, ...], str] | None:
    """What a JSON input's Python annotation requires of its value, if anything."""
    inner = _optional_of(annotation) or annotation
    origin = typing.get_origin(inner) or inner
    if origin is dict:
        return dict, "an object"
    if origin is list:
        return list, "a list"
    if origin is bool:
        return bool, "true or false"
    return None


def _json_default(spec: InputSpec) -> tuple[bool, Any]:
    """A declared default that can be recorded as JSON (what the run will use)."""
    try:
        orjson.dumps(spec.default)
    except TypeError:
        return False, None
    return True, spec.default


def check_inputs(
    entrypoint: Entrypoint, sent: Mapping[str, tuple[Any, str | None]]
) -> dict[str, Any]:
    """The inputs to record, `{name: JSON value}`; raises `InvalidInputs` naming each bad one.

    `sent` maps each input name to its value and the Vellum type it was sent as (None when the
    request format carries no types).
    """
    errors: list[FieldError] = []
    declared = {spec.name: spec for spec in entrypoint.inputs}
    accepted: dict[str, Any] = {}
    for name in sent:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            errors.append(FieldError(None, f"inputs.{name}", f"is not an input (inputs: {known})"))
    for spec in entrypoint.inputs:
        value, sent_type = sent.get(spec.name, (_MISSING, None))
        if value is _MISSING:
            if spec.required:
                errors.append(FieldError(None, f"inputs.{spec.name}", "is required"))
                continue
            # Recorded too, so the execution's inputs say what it ran with.
            recordable, default = _json_default(spec)
            if recordable:
                accepted[spec.name] = default
            continue
        checked, reason = _check(spec, value, sent_type)
        if reason is not None:
            errors.append(FieldError(None, f"inputs.{spec.name}", reason))
        else:
            accepted[spec.name] = checked
    if errors:
        raise InvalidInputs(errors)
    return accepted


def python_inputs(entrypoint: Entrypoint, recorded: Mapping[str, Any]) -> dict[str, Any]:
    """The recorded JSON inputs as the Python values the entrypoint expects."""
    converted = dict(recorded)
    for spec in entrypoint.inputs:
        value = converted.get(spec.name)
        if value is None:
            continue
        if spec.type is VellumType.CHAT_HISTORY:
            converted[spec.name] = _CHAT_HISTORY.validate_python(value)
        elif int in (spec.python_type, _optional_of(spec.python_type)):
            converted[spec.name] = int(value)  # JSON has one number type; checked whole
    return converted


def _optional_of(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else None
