"""Start Arize Phoenix (`phoenix serve`) with its gRPC receiver on the loopback address only.

Run with the Python of Phoenix's own venv (`bench/.phoenix-venv`), never the project's:

    bench/.phoenix-venv/bin/python bench/_phoenix_serve.py

`PHOENIX_HOST` binds its HTTP server; its OTLP gRPC receiver always binds `[::]:PORT`
(`phoenix/server/grpc_server.py`) and has no setting for the address, so the address is
rewritten to 127.0.0.1 here before Phoenix starts. Everything else is Phoenix as shipped,
configured by the environment the benchmark sets (working dir, ports, telemetry off).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


def _loopback_only() -> None:
    grpc_aio = importlib.import_module("grpc.aio")
    make_server = grpc_aio.server

    def server(*args: Any, **kwargs: Any) -> Any:
        made = make_server(*args, **kwargs)
        add_port = made.add_insecure_port

        def add_insecure_port(address: str) -> Any:
            return add_port(address.replace("[::]", "127.0.0.1"))

        made.add_insecure_port = add_insecure_port
        return made

    setattr(grpc_aio, "server", server)  # noqa: B010  # a module: mypy cannot type the patch


def main() -> None:
    """`phoenix serve`, gRPC on 127.0.0.1."""
    _loopback_only()
    sys.argv = ["phoenix", "serve"]
    importlib.import_module("phoenix.server.main").main()


if __name__ == "__main__":
    main()
