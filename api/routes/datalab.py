"""`GET /api/v1/workflows/executions/{execution_id}`: Datalab's execution status (seeds/004),
a view of the same projections as Vellum's status and detail.

Datalab's ids are integers: the execution is named by its number (domain/execution_numbers.py),
which Runledger's own list and detail show too. The key is `X-API-Key`, as every Runledger route
takes it. A path id that is not an integer is a 422 in Datalab's (FastAPI's) validation shape,
`{"detail": [{"loc", "msg", "type"}]}`; other errors keep the shape every route answers, whose
`detail` is a string as FastAPI's own errors are.
"""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import require_workspace
from api.datalab_shapes import status_json
from api.payload_urls import payload_urls
from domain.errors import ExecutionNotFound
from domain.execution_numbers import ExecutionNumbers, UnknownNumber
from projections.views import Views


def _validation_error(raw: str) -> Response:
    detail = [
        {
            "type": "int_parsing",
            "loc": ["path", "execution_id"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": raw[:200],
        }
    ]
    return Response(
        orjson.dumps({"detail": detail}), status_code=422, media_type="application/json"
    )


async def execution_status(request: Request) -> Response:
    """The execution's status and each step's, with links to the finished steps' outputs."""
    workspace = await require_workspace(request, header_name="X-API-Key")
    raw = request.path_params["execution_id"]
    try:
        number = int(raw)
    except ValueError:
        return _validation_error(raw)
    numbers: ExecutionNumbers = request.app.state.execution_numbers
    try:
        position = numbers.position(workspace.id, number)
    except UnknownNumber:
        raise ExecutionNotFound(f"number {number}") from None
    views: Views = request.app.state.views
    view, spans = await run_in_threadpool(
        views.listed_with_every_span, workspace.id, position, f"number {number}"
    )
    output_url = payload_urls(request, workspace.id, view.execution_id)
    body = status_json(view, number, spans, output_url)
    return Response(orjson.dumps(body), media_type="application/json")


routes = [
    Route("/api/v1/workflows/executions/{execution_id}", execution_status, methods=["GET"]),
]
