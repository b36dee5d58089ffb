"""Vellum typed values in and out of a run.

Requests carry inputs as Vellum's typed values (`{"name", "type", "value"}`); the native
execute-stream carries a plain `{name: value}` object. Both are checked against what the
entrypoint declares, and every problem is reported at once, one error per input. Results go
back as Vellum's typed outputs.
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
from runtime.entrypoints import Entrypoint, InputSpec, VellumType

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


def typed_inputs(items: Any) -> dict[str, tuple[Any, str | None]]:
    """Vellum's `[{"name", "type", "value"}]` request inputs as `{name: (value, type)}`."""
    if not isinstance(items, list):
        raise InvalidInputs([FieldError(None, "inputs", "must be a list of typed values")])
    sent: dict[str, tuple[Any, str | None]] = {}
    errors = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            errors.append(FieldError(index, "inputs", "must be an object with a string name"))
            continue
        if not isinstance(item.get("type"), str):
            errors.append(FieldError(index, f"inputs.{item['name']}", "type must be a string"))
            continue
        if item["name"] in sent:
            errors.append(FieldError(index, f"inputs.{item['name']}", "is given twice"))
            continue
        sent[item["name"]] = (item.get("value"), item["type"])
    if errors:
        raise InvalidInputs(errors)
    return sent


def plain_inputs(values: Any) -> dict[str, tuple[Any, str | None]]:
    """The native format's `{name: value}` inputs as `{name: (value, None)}`."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise InvalidInputs([FieldError(None, "inputs", "must be an object of input values")])
    return {name: (value, None) for name, value in values.items()}


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


def output_type(value: Any) -> VellumType:
    """The Vellum type a value goes out as: STRING, NUMBER, or JSON for anything else."""
    if isinstance(value, str):
        return VellumType.STRING
    if isinstance(value, int | float) and not isinstance(value, bool):
        return VellumType.NUMBER
    return VellumType.JSON


def typed_outputs(outputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """`{name: JSON value}` as Vellum's typed values (`WorkflowOutput*`, `ExecutionVellumValue`)."""
    return [
        {"id": name, "name": name, "type": output_type(value).value, "value": value}
        for name, value in outputs.items()
    ]
