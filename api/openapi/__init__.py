"""The OpenAPI 3.1 document of the API, built from Python data, one module per route group.

`tests/api/test_openapi.py` checks it against the app's routes (every route documented, every
documented operation served) and runs schemathesis against a live server to check that every
answer matches it. Shared shapes are component schemas: a change of one shape (say
`LogPosition` becoming an opaque string) is an edit of one entry.
"""

from __future__ import annotations

import copy
import functools

from api.openapi import (
    deployments,
    events,
    executions,
    history,
    lists,
    operator,
    other_views,
    otlp,
    runtime,
)
from api.openapi._build import ADMIN_TOKEN, API_KEY, METRICS_TOKEN, Json, obj, ref
from api.openapi.other_views import VELT_KEY

_GROUPS = (events, otlp, executions, history, lists, other_views, runtime, deployments, operator)

ERROR_SCHEMAS: Json = {
    "FieldError": obj(
        {
            "index": {
                "anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}],
                "description": "The event's (or item's) index in the request, when it has one.",
            },
            "field": {"type": "string"},
            "reason": {"type": "string"},
        },
        ("index", "field", "reason"),
        "One reason the request was refused.",
    ),
    "Error": obj(
        {
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": ref("FieldError")},
        },
        ("detail",),
        "Every error's shape; `errors[]` names each bad field when there are any.",
        example={
            "detail": "the batch was rejected; no event of it was stored",
            "errors": [
                {
                    "index": 3,
                    "field": "timestamp",
                    "reason": "is not an ISO-8601 date-time: '23/11/2026'",
                }
            ],
        },
    ),
    "InternalError": obj(
        {"detail": {"type": "string"}, "error_id": {"type": "string"}},
        ("detail", "error_id"),
        "An internal error; `error_id` is in the server log beside the traceback.",
    ),
}

_DESCRIPTION = """\
Runledger records every `workflow.execution.*` and `node.execution.*` event of Vellum's
vocabulary in an append-only log, serves status and detail reads in Vellum's shapes, and runs
deployed workflows. Every request except health, `/admin/proof` and this reference carries
`X-API-KEY`; `/admin/replay` and `/admin/verify` take `X-Admin-Token` instead.

Every error has one shape, `Error`: `{"detail", "errors": [{"index", "field", "reason"}]}`;
a 500 carries `error_id` instead of `errors`.
"""


@functools.cache
def _document() -> Json:
    schemas: Json = dict(ERROR_SCHEMAS)
    paths: Json = {}
    for group in _GROUPS:
        schemas.update(group.SCHEMAS)
        paths.update(group.PATHS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Runledger",
            "version": "0.1.0",
            "description": _DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "tags": [
            {"name": "Ingest", "description": "Events enter the log."},
            {"name": "Executions", "description": "Reads, in Vellum's shapes."},
            {"name": "Runtime", "description": "Running deployed workflows."},
            {"name": "Deployments", "description": "What can be run."},
            {"name": "Operations", "description": "Health and the operator's commands."},
            {"name": "Reference", "description": "This document."},
        ],
        "security": [{API_KEY: []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                API_KEY: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-API-KEY",
                    "description": "A workspace's key (`runledger keys create`).",
                },
                VELT_KEY: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-velt-api-key",
                    "description": "A workspace's key, as Velt's read sends it.",
                },
                ADMIN_TOKEN: {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Admin-Token",
                    "description": "The server's admin token (`RUNLEDGER_ADMIN_TOKEN`, or the "
                    "`admin-token` file in the data folder).",
                },
                METRICS_TOKEN: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`RUNLEDGER_METRICS_TOKEN` (or the admin token) for "
                    "`GET /metrics`, as Prometheus's `authorization` setting sends it.",
                },
            },
            "schemas": schemas,
        },
    }


def document() -> Json:
    """The OpenAPI document (a copy: callers may change it)."""
    return copy.deepcopy(_document())
