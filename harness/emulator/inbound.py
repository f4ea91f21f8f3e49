"""The router's client side, at the asyncio-protocol level: parse requests, answer them in order.

The router must never be the bottleneck of a capacity test (issue 2), and a
general-purpose framework costs several hundred µs of CPU per proxied request.
`ClientConnection` parses with httptools (llhttp, in C), reads requests from a
client (pipelining allowed; they are answered in order) and hands each complete
one to the router's coroutine. The response being relayed to it (`upstream.py`)
is seen only through `ResponseInFlight`, for backpressure: a slow client pauses
reading from the dyno.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, cast

import httptools

__all__ = ["ClientConnection", "ProxyRequest", "ResponseInFlight", "error_response"]

_log = logging.getLogger(__name__)


@dataclass(slots=True)
class ProxyRequest:
    """One complete client request (body buffered; request bodies are small in load tests)."""

    method: str
    target: bytes  # path + query, as sent
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool
    http_version: str
    peer: str
    tls: bool = False  # the client spoke HTTPS to the router (X-Forwarded-Proto)

    def header(self, name: bytes) -> bytes | None:
        """The first value of header `name` (lower-case bytes), or None."""
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class ResponseInFlight(Protocol):
    """The response a client connection is receiving (a `ResponseRelay`), as the connection sees it."""

    def client_gone(self) -> None:
        """The client closed mid-response."""
        ...

    def pause_upstream(self) -> None:
        """The client's write buffer is full: stop reading from the dyno."""
        ...

    def resume_upstream(self) -> None:
        """The client's write buffer drained: read from the dyno again."""
        ...


def _status_line(version: str, status: int, reason: bytes) -> bytes:
    return b"HTTP/%s %d %s\r\n" % (version.encode(), status, reason)


def error_response(status: int, reason: bytes, body: bytes, *, keep_alive: bool) -> bytes:
    """A complete HTTP/1.1 response with an HTML body (the router's own error pages)."""
    return b"".join(
        (
            _status_line("1.1", status, reason),
            b"Content-Type: text/html; charset=utf-8\r\nCache-Control: no-cache, no-store\r\n",
            b"Content-Length: %d\r\n" % len(body),
            b"" if keep_alive else b"Connection: close\r\n",
            b"\r\n",
            body,
        )
    )


class ClientConnection(asyncio.Protocol):
    """One client connection: parses requests and lets `handler` answer them one at a time."""

    def __init__(
        self, handler: Callable[[ClientConnection, ProxyRequest], Awaitable[None]], *, tls: bool = False
    ) -> None:
        self._handler = handler
        self.tls = tls
        self.transport: asyncio.Transport | None = None
        self.peer = "127.0.0.1"
        self.port = 0
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._queue: deque[ProxyRequest] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._idle: asyncio.Future[None] | None = None  # the worker waits on it between requests
        self.closed = False
        self.relay: ResponseInFlight | None = None  # the response being relayed, for backpressure
        self._paused = False

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        peer = self.transport.get_extra_info("peername")
        if peer:
            self.peer = str(peer[0])
        sock = self.transport.get_extra_info("sockname")
        if sock:
            self.port = int(sock[1])

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(501, b"Not Implemented")
        except httptools.HttpParserError:
            self._reject(400, b"Bad Request")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._idle is not None and not self._idle.done():
            self._idle.set_result(None)
        if self.relay is not None:
            self.relay.client_gone()

    def pause_writing(self) -> None:
        self._paused = True
        if self.relay is not None:
            self.relay.pause_upstream()

    def resume_writing(self) -> None:
        self._paused = False
        if self.relay is not None:
            self.relay.resume_upstream()

    # --- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        for name, value in self._headers:
            if name.lower() == b"expect" and value.lower() == b"100-continue" and self.transport:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        parser = self._parser
        request = ProxyRequest(
            method=parser.get_method().decode("ascii", "replace"),
            target=self._url,
            headers=self._headers,
            body=b"".join(self._body),
            keep_alive=parser.should_keep_alive(),
            http_version=parser.get_http_version(),
            peer=self.peer,
            tls=self.tls,
        )
        self._queue.append(request)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._serve())
        elif self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    # --- answering ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        """Answer requests in order for the connection's life (one task per connection, not per request)."""
        loop = asyncio.get_running_loop()
        while not self.closed:
            if not self._queue:
                self._idle = loop.create_future()
                await self._idle
                continue
            request = self._queue.popleft()
            try:
                await self._handler(self, request)
            except Exception:  # a router bug must not leave the client hanging
                _log.exception("router failed on %s %r", request.method, request.target)
                self.close()
                return
            if not request.keep_alive:
                self.close()

    def write(self, data: bytes) -> None:
        """Send bytes to the client unless it has gone."""
        if not self.closed and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    @property
    def paused(self) -> bool:
        return self._paused

    def close(self) -> None:
        """Close after what was written is flushed."""
        self.closed = True
        if self._idle is not None and not self._idle.done():
            self._idle.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def _reject(self, status: int, reason: bytes) -> None:
        self.write(error_response(status, reason, reason + b"\n", keep_alive=False))
        self.close()
