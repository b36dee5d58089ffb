"""Who is asking: the `X-API-KEY` header, resolved to a workspace."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.errors import Unauthorized
from domain.keys import KeyRing, Workspace

API_KEY_HEADER = "x-api-key"
ADMIN_TOKEN_HEADER = "x-admin-token"  # noqa: S105 (a header name, not a secret)


async def require_workspace(
    request: Request, header: str = API_KEY_HEADER, header_name: str = "X-API-KEY"
) -> Workspace:
    """The workspace of the request's key (in `header`, which messages call `header_name`);
    401 when the key is missing or not accepted."""
    key = request.headers.get(header)
    if not key:
        raise Unauthorized(f"the {header_name} header is required")
    return await workspace_of_key(request, key, header_name)


async def workspace_of_key(request: Request, key: str, header_name: str) -> Workspace:
    """The workspace of a key the request carried; 401 when it is not accepted."""
    keys: KeyRing = request.app.state.keys
    hit = keys.cached(key)
    # A cache miss reads the log: off the event loop, where it may wait behind writers.
    workspace = hit if hit is not False else await run_in_threadpool(keys.authenticate, key)
    if workspace is None:
        raise Unauthorized(f"the {header_name} is not a valid key")
    return workspace


def is_admin(request: Request) -> bool:
    """Whether the request carries the server's admin token (`X-Admin-Token`)."""
    expected = request.app.state.admin_token
    given = request.headers.get(ADMIN_TOKEN_HEADER, "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def require_admin(request: Request) -> None:
    """401 unless the request carries the admin token."""
    if not is_admin(request):
        raise Unauthorized("the X-Admin-Token header is missing or wrong")
