"""Entrypoints: what a release runs, found by `package.module:attribute`, and its inputs.

Two kinds run: a Vellum Workflows SDK workflow class (its `Inputs` class declares the inputs)
and a plain Python function, sync or async (its signature declares them). Declared types map
to Vellum's input types so requests can be checked before anything runs.
"""

from __future__ import annotations

import importlib
import inspect
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vellum.client.types import ChatMessage
from vellum.workflows import BaseWorkflow

from domain.vellum_values import VellumType


class EntrypointError(ValueError):
    """An entrypoint reference that does not name something Runledger can run."""


class Kind(StrEnum):
    """How a release runs."""

    WORKFLOW = "WORKFLOW"  # a vellum.workflows.BaseWorkflow subclass
    FUNCTION = "FUNCTION"  # a plain function, sync or async


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One declared input."""

    name: str
    type: VellumType
    required: bool
    python_type: Any
    default: Any = None


@dataclass(frozen=True, slots=True)
class Entrypoint:
    """A loaded entrypoint and what it declares."""

    reference: str
    kind: Kind
    target: Any
    inputs: tuple[InputSpec, ...]
    accepts_state: bool = False

    @property
    def is_async(self) -> bool:
        """True for an `async def` function."""
        return self.kind is Kind.FUNCTION and inspect.iscoroutinefunction(self.target)

    @property
    def label(self) -> str:
        """The name events and listings show for it."""
        return str(getattr(self.target, "__name__", self.reference))


def vellum_type_of(annotation: Any) -> tuple[VellumType, bool]:
    """The Vellum type of a Python annotation, and whether it admits None."""
    optional = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) == 1:
            annotation = args[0]
            origin = typing.get_origin(annotation)
        else:
            return VellumType.JSON, optional
    if annotation is str:
        return VellumType.STRING, optional
    if annotation in (int, float):
        return VellumType.NUMBER, optional
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        if isinstance(item, type) and issubclass(item, ChatMessage):
            return VellumType.CHAT_HISTORY, optional
    return VellumType.JSON, optional


def _workflow_inputs(workflow: type[BaseWorkflow[Any, Any]]) -> tuple[InputSpec, ...]:
    inputs_class = workflow.get_inputs_class()
    hints = typing.get_type_hints(inputs_class)
    specs = []
    for name, annotation in hints.items():
        if name.startswith("_"):
            continue
        # The SDK requires every field without a default, Optional or not.
        vellum_type, _ = vellum_type_of(annotation)
        has_default = name in vars(inputs_class)
        default = vars(inputs_class).get(name)
        specs.append(InputSpec(name, vellum_type, not has_default, annotation, default))
    return tuple(specs)


def _function_inputs(function: Callable[..., Any]) -> tuple[tuple[InputSpec, ...], bool]:
    signature = inspect.signature(function)
    hints = typing.get_type_hints(function)
    specs = []
    accepts_state = False
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.name == "state":
            # Reserved: the previous execution's final state, for `previous_execution_id`.
            accepts_state = True
            continue
        annotation = hints.get(parameter.name, Any)
        vellum_type, _ = vellum_type_of(annotation)
        has_default = parameter.default is not parameter.empty
        default = parameter.default if has_default else None
        specs.append(InputSpec(parameter.name, vellum_type, not has_default, annotation, default))
    return tuple(specs), accepts_state


_cache: dict[str, Entrypoint] = {}
_cache_lock = threading.Lock()


def load(reference: str) -> Entrypoint:
    """Import and describe `package.module:attribute` (cached: modules import once anyway)."""
    with _cache_lock:
        cached = _cache.get(reference)
    if cached is not None:
        return cached
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise EntrypointError(f"{reference!r} is not of the form package.module:attribute")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise EntrypointError(f"cannot import {module_name!r}: {error}") from error
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise EntrypointError(f"{module_name!r} has no attribute {attribute!r}") from None
    if isinstance(target, type) and issubclass(target, BaseWorkflow):
        entrypoint = Entrypoint(reference, Kind.WORKFLOW, target, _workflow_inputs(target))
    elif inspect.isfunction(target) or inspect.iscoroutinefunction(target):
        specs, accepts_state = _function_inputs(target)
        entrypoint = Entrypoint(reference, Kind.FUNCTION, target, specs, accepts_state)
    else:
        raise EntrypointError(
            f"{reference!r} is neither a vellum.workflows.BaseWorkflow subclass nor a function"
        )
    with _cache_lock:
        _cache[reference] = entrypoint
    return entrypoint
