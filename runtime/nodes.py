"""`@node`: a plain function (sync or async) that runs as a workflow node, in its own span.

The span is started with the global tracer provider (the one the runtime installs), named
after the function (or `@node(name=...)`), and carries what `runtime.otel.NodeEventBridge`
turns into the node's events:

- inputs: the arguments the function was called with, by parameter name, defaults applied;
  `**kwargs` are merged in by their own names, `*args` is a list under its name.
- outputs: a `dict` return value is the outputs mapping itself; any other value (None
  included) is `{"value": <it>}`.
- failure: an exception is recorded on the span (with its stack trace), the status set to
  ERROR, and the exception re-raised unchanged.

Values are stored as JSON; what orjson cannot encode (an arbitrary object, an int beyond 64
bits, a dict with non-scalar keys) is stored as its `repr`.

    @node
    def summarise(text: str, limit: int = 100) -> dict[str, str]:
        return {"summary": text[:limit]}
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, cast, overload

import orjson
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from domain.envelope import Json
from runtime.otel import INPUTS_ATTRIBUTE, MODULE_ATTRIBUTE, OUTPUTS_ATTRIBUTE, QUALNAME_ATTRIBUTE

_P = ParamSpec("_P")
_R = TypeVar("_R")

# A proxy: it follows whichever provider is global when a node runs, not when it is imported.
_TRACER = trace.get_tracer("runledger.runtime.nodes")


@overload
def node(fn: Callable[_P, _R], /) -> Callable[_P, _R]: ...


@overload
def node(*, name: str | None = None) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def node(
    fn: Callable[_P, _R] | None = None, /, *, name: str | None = None
) -> Callable[_P, _R] | Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Run the function as a workflow node; usable bare (`@node`) or as `@node(name=...)`."""
    if fn is None:
        return lambda f: _wrap(f, name)
    return _wrap(fn, name)


def _wrap(fn: Callable[_P, _R], name: str | None) -> Callable[_P, _R]:
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        # The span would end when the generator is created, before any of its work.
        raise TypeError(f"@node does not support generator functions: {fn.__qualname__}")
    span_name = name or fn.__name__
    signature = inspect.signature(fn)
    definition = {MODULE_ATTRIBUTE: fn.__module__, QUALNAME_ATTRIBUTE: fn.__qualname__}

    @contextmanager
    def span(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[trace.Span]:
        inputs = _json(_arguments(signature, args, kwargs))
        with _TRACER.start_as_current_span(
            span_name,
            attributes={**definition, INPUTS_ATTRIBUTE: inputs},
            record_exception=False,
            set_status_on_exception=False,
        ) as current:
            try:
                yield current
            except BaseException as error:
                current.record_exception(error, escaped=True)
                current.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
                raise

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def run_async(*args: _P.args, **kwargs: _P.kwargs) -> Any:
            with span(args, kwargs) as current:
                result = await fn(*args, **kwargs)
                current.set_attribute(OUTPUTS_ATTRIBUTE, _json(_outputs(result)))
                return result

        return cast(Callable[_P, _R], run_async)

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with span(args, kwargs) as current:
            result = fn(*args, **kwargs)
            current.set_attribute(OUTPUTS_ATTRIBUTE, _json(_outputs(result)))
            return result

    return run


def _arguments(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        # The call itself will raise the same TypeError inside the span; keep what was passed.
        return {"args": list(args), "kwargs": kwargs}
    bound.apply_defaults()
    arguments: dict[str, Any] = {}
    for parameter, value in bound.arguments.items():
        if signature.parameters[parameter].kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        else:
            arguments[parameter] = value
    return arguments


def _outputs(result: object) -> Mapping[Any, Any]:
    return result if isinstance(result, dict) else {"value": result}


def _json(mapping: Mapping[Any, Any]) -> str:
    """The mapping as a JSON object, each value encoded on its own so one bad value stays local."""
    return orjson.dumps({str(key): _safe(value) for key, value in mapping.items()}).decode()


def _safe(value: object) -> Json:
    try:
        return orjson.loads(orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS))
    except (orjson.JSONEncodeError, TypeError):
        return repr(value)
