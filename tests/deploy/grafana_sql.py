"""A dashboard query's SQL as Grafana's ClickHouse data source sends it to ClickHouse.

The tests run every panel's and variable's SQL as the plugin would, so this expands it in the
plugin's two passes, with the semantics read from grafana/clickhouse-datasource:

1. the browser (`src/data/CHDatasource.ts`, `applyTemplateVariables`): first
   `$__conditionalAll(phrase, $var)` (`applyConditionalAll`: `1=1` when the variable's value is
   All or empty, else the phrase; its arguments split at the commas outside brackets, as
   `getMacroArgs` does), then Grafana's template variables (`$var`, `${var}`, `[[var]]`), a
   multi-value one as `'a','b'` (the data source's `format`), any other value as it is;
2. the plugin's backend (`pkg/macros/macros.go`): the time macros, over the panel's time range
   (`toDateTime(<unix seconds>)`, `fromUnixTimestamp64Milli(<ms>)`) and its interval (whole
   seconds, at least 1).

A macro this module does not know is an error here (the plugin would send it on and ClickHouse
would refuse it), so a dashboard cannot pass its tests with a query Grafana cannot run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ALL = "$__all"
"""The value Grafana gives a variable whose "All" option is chosen."""

Value = str | Sequence[str]


@dataclass(frozen=True)
class PanelTime:
    """What a panel query runs over: its time range and its interval (Grafana picks the
    interval from the range and the panel's width; a test names it)."""

    start: datetime
    end: datetime
    interval: timedelta


# Grafana's variable syntaxes: $name, [[name]] or [[name:format]], ${name}, ${name.field},
# ${name:format}.
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?\}"
)
_CONDITIONAL_ALL = "$__conditionalAll("
_CONDITIONAL_VARIABLE = re.compile(r"(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+")
_MACRO = re.compile(r"\$__(\w+)")


def expand(
    sql: str, variables: Mapping[str, Value], time: PanelTime, options: Mapping[str, Value]
) -> str:
    """`sql` as ClickHouse receives it. `variables` are the dashboard's current values;
    `options` the values "All" stands for (every option of the variable, as Grafana sends
    them when the variable has no custom all value)."""
    sql = _conditional_all(sql, variables)
    sql = _template_variables(sql, variables, options)
    return _macros(sql, time)


def _macro_args(text: str, open_index: int) -> tuple[list[str], int]:
    """The arguments of the call whose `(` is at `open_index`, split at the commas outside
    brackets, and the index just past its `)`."""
    depth = 0
    args: list[str] = []
    start = open_index + 1
    for index in range(open_index, len(text)):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 1:
            args.append(text[start:index])
            start = index + 1
        if depth == 0:
            args.append(text[start:index])
            return args, index + 1
    raise ValueError(f"unclosed macro call at {open_index}: {text[open_index:][:60]!r}")


def _conditional_all(sql: str, variables: Mapping[str, Value]) -> str:
    # As the plugin: the last call first, so a call inside another's phrase is seen whole.
    while (at := sql.rfind(_CONDITIONAL_ALL)) != -1:
        args, end = _macro_args(sql, at + len(_CONDITIONAL_ALL) - 1)
        if len(args) != 2:
            raise ValueError(f"$__conditionalAll takes 2 arguments, got {args}")
        phrase, variable = args
        name = _CONDITIONAL_VARIABLE.search(variable.strip())
        if name is not None:
            value = variables.get(name[0], "")
            text = value if isinstance(value, str) else ",".join(value)
            if text in ("", ALL):
                phrase = "1=1"
        sql = sql[:at] + phrase + sql[end:]
    return sql


def _format(value: Value) -> str:
    # The data source's `format`: a multi-value variable's values quoted and joined; any other
    # value goes in as it is (the query quotes it where it needs to).
    if isinstance(value, str):
        return value
    return "'" + "','".join(value) + "'"


def _template_variables(
    sql: str, variables: Mapping[str, Value], options: Mapping[str, Value]
) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match[1] or match[2] or match[4]
        if name not in variables:
            return match[0]  # Grafana leaves what it does not know; the macros are next
        if match[3] or match[5] or match[6]:
            raise ValueError(f"{match[0]}: variable formats and fields are not used here")
        value = variables[name]
        if value == ALL or (not isinstance(value, str) and list(value) == [ALL]):
            value = options[name]
        return _format(value)

    return _VARIABLE.sub(replace, sql)


def _unix(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def _milli(moment: datetime) -> int:
    return math.floor(moment.timestamp() * 1000)


def _seconds(time: PanelTime) -> int:
    return int(max(time.interval.total_seconds(), 1))


_Handler = Callable[[PanelTime, list[str]], str]

_MACROS: dict[str, tuple[int, _Handler]] = {
    "timeFilter": (
        1,
        lambda t, a: (
            f"{a[0]} >= toDateTime({_unix(t.start)}) AND {a[0]} <= toDateTime({_unix(t.end)})"
        ),
    ),
    "timeFilter_ms": (
        1,
        lambda t, a: (
            f"{a[0]} >= fromUnixTimestamp64Milli({_milli(t.start)}) AND "
            f"{a[0]} <= fromUnixTimestamp64Milli({_milli(t.end)})"
        ),
    ),
    "fromTime": (0, lambda t, a: f"toDateTime({_unix(t.start)})"),
    "toTime": (0, lambda t, a: f"toDateTime({_unix(t.end)})"),
    "fromTime_ms": (0, lambda t, a: f"fromUnixTimestamp64Milli({_milli(t.start)})"),
    "toTime_ms": (0, lambda t, a: f"fromUnixTimestamp64Milli({_milli(t.end)})"),
    "timeInterval": (
        1,
        lambda t, a: f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {_seconds(t)} second)",
    ),
    "interval_s": (0, lambda t, a: str(_seconds(t))),
}


def _macros(sql: str, time: PanelTime) -> str:
    out: list[str] = []
    position = 0
    while (match := _MACRO.search(sql, position)) is not None:
        name = match[1]
        if name not in _MACROS:
            raise ValueError(f"$__{name}: a macro these tests do not expand")
        arity, handler = _MACROS[name]
        out.append(sql[position : match.start()])
        args: list[str] = []
        position = match.end()
        if arity:
            if sql[position : position + 1] != "(":
                raise ValueError(f"$__{name} needs {arity} argument(s)")
            args, position = _macro_args(sql, position)
            args = [arg.strip() for arg in args]
            if len(args) != arity:
                raise ValueError(f"$__{name} takes {arity} argument(s), got {args}")
        out.append(handler(time, args))
    out.append(sql[position:])
    return "".join(out)
