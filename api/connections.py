"""What a connection may hold of the server before the app sees a request.

uvicorn reads a request's head without a deadline, keeps a body it is waiting for open as long
as the client trickles it, buffers a head of any size and accepts every connection the kernel
hands it. A client that never finishes a request can therefore hold a socket (and a file
descriptor, which the embedded ClickHouse engine needs too) for as long as it likes; a few
hundred such clients stop the service. This protocol, uvicorn's own `httptools` one with
limits, closes them:

- the head (request line and headers) must arrive within `header_timeout_seconds` of the
  connection or of its first byte, the body within `body_timeout_seconds` of the head: 408;
- the head may be at most `max_header_bytes` and `max_headers` headers: 431;
- at most `max_connections` connections are open at once; one more is answered 503 and closed
  at once, so descriptors never run out.

Between requests of a kept-alive connection uvicorn's own keep-alive timeout applies.
"""

from __future__ import annotations

import asyncio
import http
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Limits of one server's connections (settings `RUNLEDGER_HEADER_TIMEOUT_SECONDS`, ...)."""

    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0
    max_header_bytes: int = 64 * 1024
    max_headers: int = 100
    max_connections: int = 1024


def default_max_connections() -> int:
    """A quarter of the process's descriptor limit, between 16 and 4,096: the rest stays for
    the log, the embedded ClickHouse engine's files and the runtime."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 4096
    return max(16, min(4096, soft // 4))


class _Refused(Exception):
    """Raised inside the parser's callbacks to stop reading a request that breaks a limit."""


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class with `limits` (pass it as `uvicorn.Config(http=...)`)."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})


class GuardedHttpProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that enforces `limits`; see the module's docstring."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._refusal: tuple[int, str] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503, "the server has too many connections open; retry shortly")
            return
        self._start_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Counted per read, so a head is refused before it is buffered whole: the parser keeps
        # a header's bytes until it has all of them.
        if (
            self._reading_head
            and self._head_bytes > self.limits.max_header_bytes
            and not self.transport.is_closing()
        ):
            self._refuse(
                431, f"the request head is larger than {self.limits.max_header_bytes} bytes"
            )

    # Parser callbacks: the head starts, grows, ends; then the body ends.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._reading_head, self._header_count = True, 0
        if self._deadline is None:  # a kept-alive connection's next request: the head starts now
            self._start_head_deadline()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._refusal = (431, f"the request has more than {self.limits.max_headers} headers")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head, self._head_bytes = False, 0
        self._set_deadline(self.limits.body_timeout_seconds, "the request body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        self._reading_head = True
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # The parser stops at a callback's exception and uvicorn answers 400; a limit says why.
        if self._refusal is not None:
            self._refuse(*self._refusal)
        else:
            super().send_400_response(msg)

    # Deadlines and refusals.

    def _start_head_deadline(self) -> None:
        self._set_deadline(self.limits.header_timeout_seconds, "the request head")

    def _set_deadline(self, seconds: float, what: str) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(seconds, self._timed_out, what, seconds)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self, what: str, seconds: float) -> None:
        self._deadline = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The app may be waiting for the body: it is told the client is gone, and anything
            # it answers is dropped; nothing of a half-received batch is stored.
            cycle.disconnected = True
            cycle.message_event.set()
        if cycle is not None and cycle.response_started:
            self.transport.close()  # it was answered already: just stop waiting
            return
        self._refuse(408, f"{what} was not received within {seconds:g} s")

    def _refuse(self, status: int, detail: str) -> None:
        self._cancel_deadline()
        if self.transport.is_closing():
            return
        body = orjson.dumps({"detail": detail})
        head = [
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            "connection: close",
        ]
        if status == 503:
            head.append("retry-after: 1")
        self.transport.write("\r\n".join(head).encode() + b"\r\n\r\n" + body)
        self.transport.close()
