"""Vellum's typed values on the wire: inputs as requests send them, outputs as reads answer them.

A request carries inputs as Vellum's typed values (`[{"name", "type", "value"}]`), the native
execute-stream as a plain `{name: value}` object; reads answer outputs (and recorded inputs)
as typed values again. These are the shapes alone: what a release declares and checks of
them is the runtime's (runtime/values.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from domain.errors import FieldError, InvalidInputs


class VellumType(StrEnum):
    """The Vellum input and output types Runledger checks and produces."""

    STRING = "STRING"
    NUMBER = "NUMBER"
    JSON = "JSON"
    CHAT_HISTORY = "CHAT_HISTORY"


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
