"""Signed links to span values (`GET /v1/payloads/{token}`), as the views that link put them."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from starlette.requests import Request

from domain.payload_links import PayloadLinks, PayloadRef, PayloadValue

OutputUrl = Callable[[UUID, PayloadValue], str]
"""A signed link to one value of a span of the execution being shaped."""


def payload_urls(request: Request, workspace_id: UUID, execution_id: UUID) -> OutputUrl:
    """Links to the values of the execution's spans, on the address the request came to."""
    links: PayloadLinks = request.app.state.payload_links
    base = str(request.base_url)

    def url(span_id: UUID, value: PayloadValue) -> str:
        token = links.token(PayloadRef(workspace_id, execution_id, span_id, value))
        return f"{base}v1/payloads/{token}"

    return url
