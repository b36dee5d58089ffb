"""The HTTP ceiling: a bare Starlette endpoint answering a constant, served as `runledger serve`
serves the real app (uvicorn, one worker, same loop and HTTP parser, no access log).

    python -m bench._ceiling --port PORT --accepted N

`POST /monitoring/v1/events` reads the whole body (as ingest must) and answers the same
constant JSON every time, with `accepted_count` N: the benchmark posts batches of N events, so
its client checks the answer exactly as it checks the real one. No auth, no parsing, no log:
what remains is uvicorn, Starlette's routing and the request and response themselves.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench._server import Server, free_port, spawn

EVENTS_PATH = "/monitoring/v1/events"


def create_app(accepted: int) -> Starlette:
    """The bare app: one route that reads the body and answers a constant."""
    answer = orjson.dumps(
        {
            "success": True,
            "count": accepted,
            "accepted_count": accepted,
            "duplicate_count": 0,
            "log_position": 0,
        }
    )

    async def events(request: Request) -> Response:
        await request.body()
        return Response(answer, media_type="application/json")

    async def ready(request: Request) -> Response:
        return Response(b'{"status":"ready"}', media_type="application/json")

    return Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"]), Route("/readyz", ready)])


@contextmanager
def running_ceiling(accepted: int, log_path: Path) -> Iterator[Server]:
    """The bare app in a child process on a free local port, stopped afterwards."""
    port = free_port()
    args = ["-m", "bench._ceiling", "--port", str(port), "--accepted", str(accepted)]
    with spawn(args, {}, log_path, port, api_key="") as server:
        yield server


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the bare app the way `api.cli serve` serves the real one."""
    parser = argparse.ArgumentParser(prog="python -m bench._ceiling")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--accepted", type=int, required=True)
    args = parser.parse_args(argv)
    config = uvicorn.Config(
        create_app(args.accepted),
        host=args.host,
        port=args.port,
        workers=1,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
