"""Health, the operator's admin endpoints, and this reference itself."""

from __future__ import annotations

from api.openapi._build import (
    ADMIN_TOKEN,
    METRICS_TOKEN,
    Json,
    answer,
    errors,
    nullable,
    obj,
    operation,
    query_parameter,
    ref,
)

_SECONDS: Json = nullable({"type": "number", "minimum": 0})

SCHEMAS: Json = {
    "Health": obj({"status": {"const": "ok"}}, ("status",)),
    "ProjectionProgress": obj(
        {
            "visible_position": ref("LogPosition"),
            "behind_count": {"type": "integer", "minimum": 0},
            "lag_p50_seconds": _SECONDS,
            "lag_p99_seconds": _SECONDS,
            "lag_samples_count": {"type": "integer", "minimum": 0},
            "batches_count": {"type": "integer", "minimum": 0},
            "batch_events_p50": nullable({"type": "number", "minimum": 0}),
            "batch_apply_p50_seconds": _SECONDS,
            "batch_apply_p99_seconds": _SECONDS,
            "last_error": nullable({"type": "string"}),
        },
        (
            "visible_position",
            "behind_count",
            "lag_p50_seconds",
            "lag_p99_seconds",
            "lag_samples_count",
            "last_error",
        ),
        "How far the projections follow the log, and how stale they run (receipt to "
        "visibility, over recent events; of the runner's last 1,000 batches).",
    ),
    "Readiness": obj(
        {
            "status": {"const": "ready"},
            "log_position": {
                **ref("LogPosition"),
                "description": "The log's newest position (with the admin token only).",
            },
            "projections": {
                **ref("ProjectionProgress"),
                "description": "How far the projections are (with the admin token only).",
            },
        },
        ("status",),
    ),
    "Unavailable": obj(
        {"status": {"const": "unavailable"}, "log": {"const": "unreachable"}},
        ("status", "log"),
    ),
    "ReplayState": obj(
        {
            "state": {"type": "string", "enum": ["idle", "running", "done", "failed"]},
            "position": {"type": "integer", "minimum": 0},
            "head": {"type": "integer", "minimum": 0},
            "database": {"type": "string"},
            "previous_database": {"type": "string"},
            "error": nullable({"type": "string"}),
        },
        ("state", "position", "head", "database", "previous_database", "error"),
        "The replay this server is running, or ran last.",
    ),
    "VerifyReport": obj(
        {
            "database": {"type": "string"},
            "executions_count": {"type": "integer", "minimum": 0},
            "events_count": {"type": "integer", "minimum": 0},
            "differences": {"type": "array", "items": {"type": "string"}},
        },
        ("database", "executions_count", "events_count", "differences"),
    ),
    "Checkpoint": obj(
        {
            "log_position": {"type": "integer", "minimum": 0},
            "link": {"type": "string", "description": "The chain's link after that position, hex."},
            "signed_at": {"type": "string", "format": "date-time"},
            "algorithm": {"const": "Ed25519"},
            "public_key": {"type": "string", "description": "The raw public key, hex."},
            "key_id": {"type": "string", "description": "SHA-256 of the public key, hex."},
            "signature": {
                "type": "string",
                "description": "Ed25519 over `runledger-checkpoint/1`, the position, the link "
                "(hex) and `signed_at`, one per line; hex.",
            },
        },
        ("log_position", "link", "signed_at", "algorithm", "public_key", "key_id", "signature"),
        "The log's hash chain head, signed: keep it, and `runledger verify --log --checkpoint` "
        "proves later that the history up to it was not rewritten.",
    ),
    "AdminProof": obj(
        {"proof": {"type": "string", "description": "HMAC-SHA256 of the challenge, hex."}},
        ("proof",),
    ),
}

_ADMIN_401 = {"e401": "The `X-Admin-Token` header is missing or wrong."}

PATHS: Json = {
    "/healthz": {
        "get": operation(
            "healthz",
            "Liveness",
            "200 while the process serves.",
            "Operations",
            {"200": answer("Serving.", ref("Health"))},
            security=None,
        )
    },
    "/readyz": {
        "get": operation(
            "readyz",
            "Readiness",
            "Whether the log answers; with the admin token also the log's newest position and "
            "how far the projections are (no workspace may gauge the others' traffic).",
            "Operations",
            {
                "200": answer("The log answers.", ref("Readiness")),
                "503": answer("The log is unreachable.", ref("Unavailable")),
            },
            security=None,
        )
        | {"security": [{}, {ADMIN_TOKEN: []}]}
    },
    "/metrics": {
        "get": operation(
            "metrics",
            "The server's figures for Prometheus",
            "Prometheus's text format: ingest batches and events by source and result, request "
            "latency by route template, the log's head, projection backlog, lag and batch write "
            'time, runs by state and busy workers (README, "Metrics"). They span every '
            "workspace, so a workspace key does not open them.",
            "Operations",
            {
                "200": {
                    "description": "Every figure.",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **errors(401, e401="No `Authorization: Bearer` with the metrics or admin token."),
            },
            security=None,
        )
        | {"security": [{METRICS_TOKEN: []}, {ADMIN_TOKEN: []}]}
    },
    "/v1/audit/checkpoint": {
        "get": operation(
            "auditCheckpoint",
            "The log's hash chain head, signed",
            "The newest chained position and the link after it, signed with the server's "
            "Ed25519 key (`RUNLEDGER_AUDIT_SIGNING_KEY`, or the data folder's). The admin token "
            "only: the position tells how much every workspace wrote.",
            "Operations",
            {
                "200": answer("The signed head.", ref("Checkpoint")),
                **errors(401, **_ADMIN_401),
            },
            security=ADMIN_TOKEN,
        )
    },
    "/admin/proof": {
        "get": operation(
            "proveAdminToken",
            "Prove this server holds the admin token",
            "Answers a random challenge with an HMAC keyed by the admin token, without "
            "revealing it: `runledger replay` and `verify` check it before sending the token.",
            "Operations",
            {
                "200": answer("The proof.", ref("AdminProof")),
                **errors(
                    400,
                    404,
                    e400="`challenge` is not 16 to 128 characters.",
                    e404="This server has no admin token.",
                ),
            },
            parameters=[
                {
                    **query_parameter(
                        "challenge",
                        "A random string of 16 to 128 characters.",
                        {"type": "string", "minLength": 16, "maxLength": 128},
                    ),
                    "required": True,
                }
            ],
            security=None,
        )
    },
    "/admin/replay": {
        "post": operation(
            "startReplay",
            "Rebuild every projection from the log",
            "Into a new generation while the old one keeps serving, then switch reads.",
            "Operations",
            {
                "202": answer("The replay started.", ref("ReplayState")),
                **errors(401, 409, **_ADMIN_401, e409="A replay is already running."),
            },
            security=ADMIN_TOKEN,
        ),
        "get": operation(
            "replayStatus",
            "How far the replay is",
            "The replay this server is running, or ran last.",
            "Operations",
            {"200": answer("The replay's state.", ref("ReplayState")), **errors(401, **_ADMIN_401)},
            security=ADMIN_TOKEN,
        ),
    },
    "/admin/verify": {
        "post": operation(
            "verify",
            "Compare the projections with a fresh fold of the log",
            "Every execution's status, spans, usage and header, up to the log's position when "
            "the verify began.",
            "Operations",
            {
                "200": answer(
                    "The differences found (none when the projections agree).", ref("VerifyReport")
                ),
                **errors(401, 503, **_ADMIN_401),
            },
            security=ADMIN_TOKEN,
        )
    },
    "/openapi.json": {
        "get": operation(
            "openapi",
            "This document",
            "The OpenAPI 3.1 document of this API.",
            "Reference",
            {"200": answer("The document.", {"type": "object"})},
            security=None,
        )
    },
    "/docs": {
        "get": operation(
            "docs",
            "This reference, rendered",
            "A self-contained page that renders `/openapi.json`.",
            "Reference",
            {
                "200": {
                    "description": "The page.",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                }
            },
            security=None,
        )
    },
}
