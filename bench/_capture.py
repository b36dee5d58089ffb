"""An OTLP/HTTP endpoint that keeps every request body and answers at once, in a thread.

Two uses in `bench.otlp`: the exporter's bodies, captured untimed, are what the raw append
path maps and appends (the same `ExportTraceServiceRequest`s the server is sent, ids included
when the sender is seeded); and the sender's own rate against an endpoint that does nothing is
the ceiling the exporter puts on any receiver measured with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Keeper(BaseHTTPRequestHandler):
    # Keep-alive, as the exporter's session expects of a real receiver.
    protocol_version = "HTTP/1.1"
    bodies: list[bytes]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.bodies.append(self.rfile.read(length))
        # An empty ExportTraceServiceResponse is zero bytes of protobuf: full success.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def capturing() -> Iterator[tuple[str, list[bytes]]]:
    """(the endpoint's URL, the bodies posted to it so far, in arrival order)."""
    bodies: list[bytes] = []
    handler = type("Keeper", (_Keeper,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}/v1/traces", bodies
    finally:
        server.shutdown()
        server.server_close()
