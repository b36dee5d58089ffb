"""Errors in Velt's shape: `{"error": {"message": ..., "status": ...}}` (seeds/003).

The HTTP status and the message are those every other route answers (api/errors.py decides
them, and logs an internal error with its id); only the body's shape is Velt's, with a status
word in the gRPC manner Velt's pages use: NOT_FOUND and INVALID_ARGUMENT as the page names
them, and UNAUTHENTICATED, UNAVAILABLE and INTERNAL for the statuses it does not.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from api.errors import EXCEPTION_HANDLERS

STATUS_WORDS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    503: "UNAVAILABLE",
}
_KEPT_HEADERS = ("retry-after", "www-authenticate")


async def velt_error(request: Request, exc: Exception) -> Response:
    """The answer api/errors.py gives `exc`, reshaped as Velt's error."""
    handler = next(
        EXCEPTION_HANDLERS[cls] for cls in type(exc).__mro__ if cls in EXCEPTION_HANDLERS
    )
    answered = await handler(request, exc)
    body = orjson.loads(answered.body)
    message = str(body.get("detail", ""))
    if "error_id" in body:
        message = f"{message} (error id {body['error_id']})"
    status = STATUS_WORDS.get(answered.status_code, "INTERNAL")
    response = Response(
        orjson.dumps({"error": {"message": message, "status": status}}),
        status_code=answered.status_code,
        media_type="application/json",
    )
    for name in _KEPT_HEADERS:
        if name in answered.headers:
            response.headers[name] = answered.headers[name]
    if answered.status_code == 401:
        response.headers["www-authenticate"] = "x-velt-api-key"
    return response
