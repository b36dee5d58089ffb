"""The shape of a node's `usage_result`, checked at ingest.

Node events may carry `body.usage_result` in Vellum's `WorkflowExecutionUsageCalculation
FulfilledBody` shape; the detail endpoint serves it as each span's `usage_result` and sums it
into the execution's `usage_results`. A malformed one would make every client's parse of the
detail page fail, so it is refused at the door, naming the field, like any bad input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.errors import FieldError

# Vellum's MlModelUsage, in its order: every count is an optional integer.
USAGE_COUNT_FIELDS = (
    "input_token_count",
    "output_token_count",
    "input_char_count",
    "output_char_count",
    "compute_nanos",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
COST_UNITS = frozenset({"USD"})
MAX_COST = 1e15
"""The largest cost a span may report, either sign: far beyond any real price, and small
enough that the sum over any execution stays a finite number."""
MAX_COUNT = 2**53 - 1
"""The largest count a span may report: the largest integer every JSON client reads exactly.
The execution's totals are sums of these, which the reads can write up to 2**64 - 1."""


def _is_count(value: Any) -> bool:
    return value is None or (
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT
    )


def check_usage_result(value: Any, index: int | None, errors: list[FieldError]) -> None:
    """Append a FieldError for each way `value` is not a usage result."""
    field = "body.usage_result"
    if not isinstance(value, Mapping):
        errors.append(FieldError(index, field, "must be an object with usage and cost"))
        return
    usage, cost = value.get("usage"), value.get("cost")
    if not isinstance(usage, list):
        errors.append(FieldError(index, f"{field}.usage", "is required and must be a list"))
    else:
        for n, item in enumerate(usage):
            where = f"{field}.usage[{n}]"
            if not isinstance(item, Mapping) or not isinstance(item.get("ml_model_name"), str):
                errors.append(FieldError(index, f"{where}.ml_model_name", "must be a string"))
                continue
            counts = item.get("ml_model_usage")
            if not isinstance(counts, Mapping):
                errors.append(FieldError(index, f"{where}.ml_model_usage", "must be an object"))
                continue
            for name in sorted(counts.keys() & set(USAGE_COUNT_FIELDS)):
                if not _is_count(counts[name]):
                    reason = f"must be a whole number from 0 to {MAX_COUNT}, or null"
                    errors.append(FieldError(index, f"{where}.ml_model_usage.{name}", reason))
    if not isinstance(cost, list):
        errors.append(FieldError(index, f"{field}.cost", "is required and must be a list"))
        return
    for n, price in enumerate(cost):
        where = f"{field}.cost[{n}]"
        amount = price.get("value") if isinstance(price, Mapping) else None
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            errors.append(FieldError(index, f"{where}.value", "must be a number"))
        elif not -MAX_COST <= amount <= MAX_COST:
            reason = f"must be a number from {-MAX_COST:g} to {MAX_COST:g}"
            errors.append(FieldError(index, f"{where}.value", reason))
        unit = price.get("unit", "USD") if isinstance(price, Mapping) else None
        # A unit that is not a string (an object, a list) is refused like an unknown one; a
        # set lookup of it would raise instead.
        if not isinstance(unit, str) or unit not in COST_UNITS:
            errors.append(
                FieldError(index, f"{where}.unit", f"must be one of {sorted(COST_UNITS)}")
            )
