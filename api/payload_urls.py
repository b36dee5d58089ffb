"""Signed links to span values (`GET /v1/payloads/{token}`), as the views that link put them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
from starlette.requests import Request

from domain.payload_links import PayloadLinks, PayloadRef, PayloadValue
from projections.payloads import replace_markers

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


def link_json(url: str, size: int) -> dict[str, Any]:
    """What stands for a value the payload store holds, in a read that links to it."""
    return {"payload_url": url, "bytes": size}


def linked_text(text: bytes, span_id: UUID, output_url: OutputUrl) -> bytes:
    """`text` (an event, a value) with each stored value's marker replaced by a link to it
    (projections/payloads.py); the rest of the text stays as it was sent."""
    return replace_markers(
        text,
        lambda found: orjson.dumps(
            link_json(output_url(span_id, PayloadValue[found.value.upper()]), found.size)
        ),
    )
