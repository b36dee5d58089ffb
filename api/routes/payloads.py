"""`GET /v1/payloads/{token}`: one stored value behind a signed, expiring link.

The token is the credential, as a presigned URL's signature is (domain/payload_links.py): no
key is needed. A request that does carry an `X-API-KEY` must carry one of the workspace the
link names. A forged, altered or expired token, or another workspace's key, is a 403 that
says nothing of which.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import API_KEY_HEADER, require_workspace
from api.errors import ApiError
from domain.payload_links import InvalidPayloadLink, PayloadLinks
from projections.views import Views

_REFUSED = "the payload link is not valid, or has expired"


async def payload(request: Request) -> Response:
    """The value's JSON, exactly as it was sent."""
    links: PayloadLinks = request.app.state.payload_links
    try:
        ref = links.ref(request.path_params["token"])
    except InvalidPayloadLink:
        raise ApiError(403, _REFUSED) from None
    if request.headers.get(API_KEY_HEADER):
        workspace = await require_workspace(request)
        if workspace.id != ref.workspace_id:
            raise ApiError(403, _REFUSED)
    views: Views = request.app.state.views
    value = await run_in_threadpool(views.payload, ref)
    return Response(
        value,
        media_type="application/json",
        headers={"Cache-Control": f"private, max-age={links.seconds_left(ref)}"},
    )


routes = [Route("/v1/payloads/{token}", payload, methods=["GET"])]
