"""Every error leaves the API here, in one shape: `{"detail": ..., "errors": [...]}`.

Domain exceptions map to HTTP statuses in one table; anything unexpected is a 500 whose
`error_id` also appears in the server log, so an operator can find the traceback.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from domain.errors import FieldError, InvalidBatch, InvalidBody

log = logging.getLogger("runledger.api")


class ApiError(Exception):
    """An error the API answers with a status and a message of its own."""

    def __init__(
        self, status_code: int, detail: str, errors: list[FieldError] | None = None
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.errors = errors or []
        super().__init__(detail)


class Unauthorized(ApiError):
    """No key, or a key Runledger does not accept."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail)


class PayloadTooLarge(ApiError):
    """The body is over the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


def error_response(
    status_code: int, detail: str, errors: list[FieldError] | None = None, **extra: Any
) -> Response:
    """The one error body shape."""
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = [{"index": e.index, "field": e.field, "reason": e.reason} for e in errors]
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status_code, media_type="application/json")


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "X-API-KEY"} if exc.status_code == 401 else None
    response = error_response(exc.status_code, exc.detail, exc.errors)
    if headers:
        response.headers.update(headers)
    return response


async def handle_invalid_batch(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidBatch)
    return error_response(400, "the batch was rejected; no event of it was stored", exc.errors)


async def handle_invalid_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidBody)
    return error_response(400, exc.reason, [FieldError(None, "body", exc.reason)])


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    error_id = uuid.uuid4().hex
    log.exception("internal error", extra={"error_id": error_id, "path": request.url.path})
    return error_response(500, "internal server error", error_id=error_id)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ApiError: handle_api_error,
    InvalidBatch: handle_invalid_batch,
    InvalidBody: handle_invalid_body,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
