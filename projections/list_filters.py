"""A parsed filter as what a list applies: the whole filter over the joined rows, and the part
of it that `execution_index` alone can decide, applied before any join (see listing.py).

Fields that are the same in the index as in the joined rows, for every execution, are decided
on the index: the deployment, release, tag, external id, metadata and start. A run's workflow
and trace are known only once it starts (its index row has them empty), and an ingested
execution's workflow comes from another root event when its initiated event names none: a
term on those keeps such rows for the join to decide (`run = 1 OR workflow = '' OR ...`). Only
the filter's top-level AND terms are split off: each one is implied by the whole filter, so the
index keeps every row the filter keeps. Those terms are compiled bare, without the NULL guard,
which a WHERE clause does not need at its top level and which would hide them from the primary
key and the skip indexes.
"""

from __future__ import annotations

from uuid import UUID

from projections.filter_grammar import And, Comparison, Expr
from projections.filter_sql import compile_filter, compile_term
from projections.listing import ListFilter, SqlCondition

INDEX_FIELDS = frozenset(
    {"deployment", "release_tag", "release_id", "external_id", "metadata", "started_at"}
)
# Fields whose index column may be empty where the joined row has the value: the condition
# under which the index cannot decide.
LATE_FIELDS = {"workflow": "run = 1 OR workflow = ''", "trace_id": "run = 1"}


def _terms(expr: Expr | None) -> list[Expr]:
    if expr is None:
        return []
    return list(expr.operands) if isinstance(expr, And) else [expr]


def list_filter(expr: Expr | None, deployment: UUID | str | None = None) -> ListFilter:
    """The filter of a list, optionally of one deployment's executions only (by its id, or by
    the name ingested executions' parent contexts give it)."""
    whole = compile_filter(expr, prefix="f")
    match = SqlCondition(whole.sql, whole.parameters)
    prefilter = SqlCondition()
    terms = _terms(expr)
    exact = True
    for n, term in enumerate(terms):
        if not isinstance(term, Comparison):
            exact = False
            continue
        compiled = compile_term(term, prefix=f"p{n}_")
        if compiled is None:
            exact = False
        elif term.field in INDEX_FIELDS:
            prefilter = prefilter & SqlCondition(compiled.sql, compiled.parameters)
        elif term.field in LATE_FIELDS:
            undecided = LATE_FIELDS[term.field]
            prefilter = prefilter & SqlCondition(
                f"{undecided} OR ({compiled.sql})", compiled.parameters
            )
        else:
            exact = False
    if deployment is not None:
        column, type_ = (
            ("deployment_id", "UUID")
            if isinstance(deployment, UUID)
            else (
                "deployment",
                "String",
            )
        )
        prefilter = prefilter & SqlCondition(
            f"{column} = {{deployment:{type_}}}", {"deployment": deployment}
        )
        match = match & SqlCondition(
            f"{column} = {{deployment_match:{type_}}}", {"deployment_match": deployment}
        )
    return ListFilter(match=match, prefilter=prefilter, exact=exact)
