"""A parsed filter as what a list applies: the whole filter over the joined rows, and the part
of it that `execution_index` alone can decide, applied before any join (see listing.py).

Only fields that are the same in the index as in the joined rows, for every execution, can be
decided on the index: the deployment, release, tag, external id, metadata and start. (A run's
workflow and trace are known only once it starts, so those are decided after the join.) Only
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
    for n, term in enumerate(_terms(expr)):
        if isinstance(term, Comparison) and term.field in INDEX_FIELDS:
            compiled = compile_term(term, prefix=f"p{n}_")
            if compiled is not None:
                prefilter = prefilter & SqlCondition(compiled.sql, compiled.parameters)
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
    return ListFilter(match=match, prefilter=prefilter)
