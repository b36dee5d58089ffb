"""`GET /openapi.json` (the API's OpenAPI 3.1 document) and `GET /docs` (it, rendered).

Both answer without a key. The page is one self-contained file shipped in the package: no
script, font or style from elsewhere, so it works on a machine without internet.
"""

from __future__ import annotations

import functools
from importlib import resources

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from api.openapi import document


@functools.cache
def _document_bytes() -> bytes:
    return orjson.dumps(document())


@functools.cache
def _page() -> str:
    return resources.files("api.openapi").joinpath("docs.html").read_text(encoding="utf-8")


async def openapi_json(request: Request) -> Response:
    """The OpenAPI document."""
    return Response(_document_bytes(), media_type="application/json")


async def docs(request: Request) -> Response:
    """The rendered reference."""
    return HTMLResponse(_page())


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/docs", docs, methods=["GET"]),
]
