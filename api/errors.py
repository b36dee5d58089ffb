"""Every error leaves the API here, in one shape: `{"detail": ..., "errors": [...]}`.

Domain exceptions map to HTTP statuses in one table; anything unexpected is a 500 whose
`error_id` also appears in the server log, so an operator can find the traceback.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
from eventsourcing.persistence import InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from domain.errors import (
    DeploymentNotFound,
    ExecutionNotFound,
    ExternalIdConflict,
    FieldError,
    InvalidBatch,
    InvalidBody,
    InvalidCursor,
    InvalidInputs,
    NotVisibleYet,
    PayloadNotFound,
    PositionBeyondLog,
)
from runtime.entrypoints import EntrypointError

log = logging.getLogger("runledger.api")


class ApiError(Exception):
    """An error the API answers with a status and a message of its own."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
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
    response = error_response(exc.status_code, exc.detail, exc.errors)
    if exc.status_code == 401:
        response.headers["WWW-Authenticate"] = "X-API-KEY"
    response.headers.update(exc.headers)
    return response


async def handle_invalid_batch(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidBatch)
    return error_response(400, "the batch was rejected; no event of it was stored", exc.errors)


async def handle_invalid_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidBody)
    return error_response(400, exc.reason, [FieldError(None, "body", exc.reason)])


async def handle_not_found(request: Request, exc: Exception) -> Response:
    # Another workspace's execution is a 404 too, never a 403 (DESIGN.md §2).
    return error_response(404, str(exc))


async def handle_invalid_cursor(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidCursor)
    return error_response(400, str(exc), [FieldError(None, exc.field, exc.reason)])


async def handle_invalid_inputs(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, InvalidInputs)
    return error_response(400, "the request is invalid; nothing was run", exc.errors)


async def handle_external_id_conflict(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ExternalIdConflict)
    return error_response(
        409,
        str(exc),
        [FieldError(None, "external_id", "names an execution started with a different request")],
        execution_id=str(exc.execution_id),
    )


async def handle_broken_entrypoint(request: Request, exc: Exception) -> Response:
    # The release names code this server cannot import: an operator's problem, not the
    # caller's, and nothing was recorded.
    log.error("entrypoint does not load", extra={"path": request.url.path, "error": str(exc)})
    return error_response(500, f"the release's entrypoint does not load: {exc}")


async def handle_position_beyond_log(request: Request, exc: Exception) -> Response:
    # Only a log restored from an older copy lacks a position it once answered; the answer
    # names no position (a workspace sees positions only as tokens).
    reason = "is beyond the end of the log (was the log restored from an older copy?)"
    return error_response(
        400, f"min_log_position {reason}", [FieldError(None, "min_log_position", reason)]
    )


async def handle_not_visible_yet(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotVisibleYet)
    response = error_response(
        503,
        f"the log this read needs is not visible yet after {exc.waited_seconds:g}s; retry shortly",
    )
    response.headers["Retry-After"] = "1"
    return response


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = error_response(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)  # e.g. the Allow header of a 405
    return response


async def handle_client_disconnect(request: Request, exc: Exception) -> Response:
    # The client went away mid-body: nothing was stored and nobody reads the answer.
    log.info("client disconnected before sending the whole body", extra={"path": request.url.path})
    return error_response(400, "the client disconnected before the body was complete")


async def handle_log_unavailable(request: Request, exc: Exception) -> Response:
    # The log is busy or unreachable: nothing of the request was stored, and trying again
    # shortly is the right move for a sender that retries (the Vellum SDK does).
    log.warning("event log unavailable", extra={"path": request.url.path, "error": repr(exc)})
    response = error_response(
        503, "the event log is unavailable; nothing was stored, retry shortly"
    )
    response.headers["Retry-After"] = "1"
    return response


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    error_id = uuid.uuid4().hex
    log.exception("internal error", extra={"error_id": error_id, "path": request.url.path})
    return error_response(500, "internal server error", error_id=error_id)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    ClientDisconnect: handle_client_disconnect,
    # eventsourcing wraps driver errors: pool timeouts, lost connections, lock timeouts.
    OperationalError: handle_log_unavailable,
    InterfaceError: handle_log_unavailable,
    ApiError: handle_api_error,
    ExecutionNotFound: handle_not_found,
    DeploymentNotFound: handle_not_found,
    PayloadNotFound: handle_not_found,
    InvalidInputs: handle_invalid_inputs,
    ExternalIdConflict: handle_external_id_conflict,
    EntrypointError: handle_broken_entrypoint,
    InvalidCursor: handle_invalid_cursor,
    PositionBeyondLog: handle_position_beyond_log,
    NotVisibleYet: handle_not_visible_yet,
    InvalidBatch: handle_invalid_batch,
    InvalidBody: handle_invalid_body,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
