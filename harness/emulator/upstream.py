"""The router's dyno side: pooled keep-alive connections to dynos, and each response's relay to its client.

`UpstreamPool` / `UpstreamConnection` talk to dynos with httptools' response
parser; one `ResponseRelay` per request carries the response head, then the
body as it arrives, to the client (`inbound.ClientConnection`), with
backpressure. Small sized bodies are collected first so head and body go out
in one write.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import cast

import httptools

from harness.emulator.inbound import ClientConnection

__all__ = [
    "HOP_BY_HOP",
    "ConnectFailed",
    "ResponseHead",
    "ResponseRelay",
    "UpstreamClosed",
    "UpstreamConnection",
    "UpstreamPool",
]

# Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus framing we recompute.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"expect",
    }
)
# Idle pooled connections older than this (s) are dropped: shorter than any server's keep-alive timeout.
KEEPALIVE_S = 1.0
_NO_BODY_STATUSES = frozenset({204, 304})
# Sized response bodies up to this many bytes are collected before the head is sent on (one write).
SMALL_BODY = 64 * 1024


@dataclass(slots=True)
class ResponseHead:
    """A dyno's response status line and headers."""

    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    content_length: int | None
    chunked: bool


class ConnectFailed(Exception):
    """Connecting to a dyno failed: `timed_out` (H19) or refused/reset (H21)."""

    def __init__(self, *, timed_out: bool) -> None:
        super().__init__("connect timed out" if timed_out else "connect refused")
        self.timed_out = timed_out


class UpstreamClosed(Exception):
    """The dyno closed the connection; `got_bytes` tells whether any response byte had arrived."""

    def __init__(self, *, got_bytes: bool, head_sent: bool) -> None:
        super().__init__("dyno closed the connection")
        self.got_bytes = got_bytes
        self.head_sent = head_sent


@dataclass(eq=False)
class ResponseRelay:
    """One request's response on its way from a dyno to a client.

    The head arrives first (`head` future; for a small sized body, together with
    the body); once the router has decided to send it, `attach()` writes it and
    relays body bytes as they come. `done` resolves
    when the body is complete (or raises UpstreamClosed).
    """

    upstream: UpstreamConnection
    head_only: bool  # a HEAD request: the response has no body whatever its headers say
    head: asyncio.Future[ResponseHead] = field(init=False)
    done: asyncio.Future[int] = field(init=False)  # body bytes relayed
    client: ClientConnection | None = None
    chunked_out: bool = False
    body_bytes: int = 0
    got_bytes: bool = False
    finished_at: float = 0.0
    _pending: list[bytes] = field(default_factory=list)
    _complete: bool = False
    _head: ResponseHead | None = None

    def __post_init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.head = loop.create_future()
        self.done = loop.create_future()

    def attach(self, client: ClientConnection, head_bytes: bytes, *, chunked_out: bool) -> None:
        """Send the response head to `client` and relay the body from now on.

        The head, the body bytes already here and (if complete) the end go out in
        one write: on loopback every send costs a wake-up of the receiver.
        """
        self.client = client
        self.chunked_out = chunked_out
        client.relay = self
        out = [head_bytes]
        out.extend(self._frame(chunk) for chunk in self._pending)
        self._pending.clear()
        if self._complete:
            if chunked_out:
                out.append(b"0\r\n\r\n")
            self._finish()
        client.write(b"".join(out))
        if client.paused and not self._complete:
            self.pause_upstream()

    def body(self, chunk: bytes) -> None:
        if self.client is None:
            self._pending.append(chunk)
        else:
            self.client.write(self._frame(chunk))

    def _frame(self, chunk: bytes) -> bytes:
        self.body_bytes += len(chunk)
        return b"%x\r\n%s\r\n" % (len(chunk), chunk) if self.chunked_out else chunk

    def headers_received(self, head: ResponseHead, *, wait_for_body: bool) -> None:
        """The dyno's head is here; a small sized body is awaited too, so it all goes out in one write."""
        self._head = head
        if not wait_for_body:
            self.head.set_result(head)

    def complete(self) -> None:
        self._complete = True
        if not self.head.done() and self._head is not None:
            self.head.set_result(self._head)
        if self.client is not None:
            if self.chunked_out:
                self.client.write(b"0\r\n\r\n")
            self._finish()

    def _finish(self) -> None:
        if self.done.done():
            return
        assert self.client is not None
        self.client.relay = None
        self.finished_at = time.perf_counter()
        self.done.set_result(self.body_bytes)

    def fail(self, error: Exception) -> None:
        for future in (self.head, self.done):
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: the router looks at whichever it awaits
        if self.client is not None:
            self.client.relay = None

    def client_gone(self) -> None:
        """The client closed mid-response: stop relaying, drop the dyno connection."""
        self.upstream.discard()
        self.fail(ConnectionResetError("client closed the connection"))

    def pause_upstream(self) -> None:
        self.upstream.pause()

    def resume_upstream(self) -> None:
        self.upstream.resume()


class UpstreamConnection(asyncio.Protocol):
    """A keep-alive connection to one dyno, carrying one request at a time."""

    def __init__(self, pool: UpstreamPool, port: int) -> None:
        self.pool = pool
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.relay: ResponseRelay | None = None
        self.idle_since = 0.0
        self.reused = False
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_done = False
        self._close_delimited = False
        self._interim = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def send(self, data: bytes, *, head_only: bool) -> ResponseRelay:
        """Write one request; its response comes through the returned relay."""
        assert self.transport is not None
        self.relay = ResponseRelay(self, head_only)
        self._reason, self._headers, self._head_done, self._close_delimited = b"", [], False, False
        self.transport.write(data)
        return self.relay

    def data_received(self, data: bytes) -> None:
        relay = self.relay
        if relay is None:  # bytes nobody asked for: this connection is unusable
            self.discard()
            return
        relay.got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.discard()
            relay.fail(UpstreamClosed(got_bytes=True, head_sent=self._head_done))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        relay, self.relay = self.relay, None
        if relay is None:
            return
        if self._head_done and self._close_delimited:
            relay.complete()  # a body delimited by the end of the connection is now whole
        else:
            relay.fail(UpstreamClosed(got_bytes=relay.got_bytes, head_sent=self._head_done))

    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self.relay is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # an interim response (e.g. 100 Continue): the real one follows
            self._interim = True
            self._reason, self._headers = b"", []
            return
        length: int | None = None
        chunked = False
        for name, value in self._headers:
            lower = name.lower()
            if lower == b"content-length" and value.strip().isdigit():
                length = int(value)
            elif lower == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        no_body = self.relay.head_only or status in _NO_BODY_STATUSES
        self._head_done = True
        self._close_delimited = not no_body and length is None and not chunked
        head = ResponseHead(status, self._reason, self._headers, length, chunked)
        small = length is not None and not no_body and length <= SMALL_BODY
        self.relay.headers_received(head, wait_for_body=small)
        if self.relay.head_only:
            self._parser = httptools.HttpResponseParser(self)  # llhttp would wait for a HEAD "body"
            self._message_done()

    def on_body(self, body: bytes) -> None:
        if self.relay is not None:
            self.relay.body(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
        elif self.relay is not None:
            self._message_done()

    def _message_done(self) -> None:
        relay, self.relay = self.relay, None
        keep = self._parser.should_keep_alive() and not self._close_delimited
        if keep:
            self.pool.release(self)
        else:
            self.discard()
        assert relay is not None
        relay.complete()

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def discard(self) -> None:
        """Close this connection; it is never reused."""
        self.closed = True
        self.pool.forget(self)
        if self.transport is not None:
            self.transport.close()


class UpstreamPool:
    """Idle keep-alive connections to dynos, by port."""

    def __init__(self) -> None:
        self._idle: dict[int, list[UpstreamConnection]] = {}

    async def acquire(
        self, port: int, *, connect_timeout_s: float, fresh: bool = False
    ) -> UpstreamConnection:
        """An idle connection to `port` (newest first), or a new one; ConnectFailed when it cannot connect."""
        idle = self._idle.get(port)
        now = time.monotonic()
        while idle and not fresh:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < KEEPALIVE_S:
                connection.reused = True
                return connection
            connection.discard()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_timeout_s):
                _, protocol = await loop.create_connection(
                    lambda: UpstreamConnection(self, port), "127.0.0.1", port
                )
        except TimeoutError:
            raise ConnectFailed(timed_out=True) from None
        except OSError:
            raise ConnectFailed(timed_out=False) from None
        return protocol

    def release(self, connection: UpstreamConnection) -> None:
        """`connection` finished a response cleanly: keep it for the next request to that dyno."""
        if connection.closed:
            return
        connection.idle_since = time.monotonic()
        connection.resume()
        self._idle.setdefault(connection.port, []).append(connection)

    def forget(self, connection: UpstreamConnection) -> None:
        idle = self._idle.get(connection.port)
        if idle and connection in idle:
            idle.remove(connection)

    def close(self) -> None:
        """Close every idle connection."""
        for idle in list(self._idle.values()):
            for connection in list(idle):
                connection.discard()
        self._idle.clear()
