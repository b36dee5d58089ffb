"""`POST /v1/traces`: OTLP/HTTP trace export (api/routes/traces.py)."""

from __future__ import annotations

from api.openapi._build import Json, errors, obj, operation, ref

_ENCODINGS = "`application/x-protobuf` (binary `ExportTraceServiceRequest`) or `application/json`"

SCHEMAS: Json = {
    "ExportTraceServiceResponse": obj(
        {
            "partialSuccess": obj(
                {
                    "rejectedSpans": {
                        "type": "string",
                        "description": "How many spans were not stored (an int64, as OTLP/JSON "
                        "writes it).",
                    },
                    "errorMessage": {
                        "type": "string",
                        "description": "Why, naming each span by its place in the request.",
                    },
                }
            )
        },
        (),
        "OTLP's answer, in the request's encoding; as JSON it is `{}` when every span was stored.",
    ),
}

PATHS: Json = {
    "/v1/traces": {
        "post": operation(
            "exportTraces",
            "Record OpenTelemetry spans (OTLP/HTTP)",
            "Point an OTLP/HTTP exporter here. Each trace is an execution; each span a node "
            "span of it, the trace's root also the execution's workflow span (README, \"With "
            'OpenTelemetry"). The key goes in `X-API-KEY` or as `Authorization: Bearer <key>`. '
            "Spans that cannot be stored are counted in `partialSuccess`; the others are "
            "stored. The answer's `X-Runledger-Log-Position` header is the read-your-writes "
            "token.",
            "Ingest",
            {
                "200": {
                    "description": "The storable spans are durably in the log.",
                    "content": {
                        "application/json": {"schema": ref("ExportTraceServiceResponse")},
                        "application/x-protobuf": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                    "headers": {
                        "X-Runledger-Log-Position": {
                            "description": "The read-your-writes token (absent when no span "
                            "was stored).",
                            "schema": {"type": "string"},
                        }
                    },
                },
                **errors(
                    400,
                    401,
                    413,
                    415,
                    503,
                    e400="The body is not an OTLP `ExportTraceServiceRequest`, or not gzip when "
                    "it says so; nothing is stored.",
                    e413="The body, once unpacked, is larger than `RUNLEDGER_MAX_BODY_BYTES`.",
                    e415=f"`Content-Type` is not {_ENCODINGS}, or `Content-Encoding` not gzip.",
                ),
            },
            body={
                "required": True,
                "description": f"An `ExportTraceServiceRequest`, {_ENCODINGS}; "
                "`Content-Encoding: gzip` allowed.",
                "content": {
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            },
        )
    }
}
