"""The app's router: one server per app on loopback, with Heroku's routing semantics.

Each request goes to a randomly chosen `up` web dyno (Heroku's random
selection) among those under `active_per_dyno` in-flight requests; when every
dyno is at its limit the request waits in a backlog of at most
`backlog_per_dyno * n_up` requests, beyond which it gets H11 at once. Errors
are Heroku's (NOTES §3.2): a 503 error page and a `heroku[router]` log line
with `at=error code=H.. desc="..."`:

- H10 web dynos exist, none is up and none is booting (crashed);
- H11 backlog too deep; H12 no response headers within `router_timeout_s`
  (counted from arrival, backlog wait included);
- H13 the dyno closed the connection without a response; H18 it closed it
  mid-body (`sock=backend`); H27 the client went away (`sock=client`, 499);
- H14 web formation is 0; H80 maintenance mode (`at=info`);
- H19/H21 connecting timed out / was refused on every dyno tried (other
  dynos are tried first); H20 no web dyno came up within `router_boot_wait_s`.

TLS as on Heroku: one port serves HTTPS (the emulator home's CA signs its
certificate, `tls.py`) and plain HTTP (`listener.py`); `X-Forwarded-Proto` and
the log line's `protocol=` say which the client used.

Not modelled: H15/H28 idle windows, H22 connection limits, WebSocket upgrades
(answered 501). The wire work is in `inbound.py` (client connections) and
`upstream.py` (httptools, pooled keep-alive connections to dynos); a request
that finds its pooled connection closed before any response byte is retried
once on a fresh connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import ssl
import time
import uuid
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from harness.emulator.inbound import ClientConnection, ProxyRequest, error_response
from harness.emulator.listener import DualListener
from harness.emulator.logs import LogBuffer
from harness.emulator.settings import RuntimeSettings
from harness.emulator.upstream import (
    HOP_BY_HOP,
    ConnectFailed,
    ResponseHead,
    ResponseRelay,
    UpstreamClosed,
    UpstreamPool,
)

__all__ = ["ERROR_PAGE", "Backend", "Router", "RouterTarget", "WebStatus"]

# Heroku keeps a client's X-Request-Id if it is 20-200 of these characters, else makes a new one.
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9+/=-]{20,200}$")
# Request headers the router sets itself (the client's values are replaced or extended).
_REPLACED = frozenset({b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-port"})
_REPLACED |= {b"x-request-start", b"via"}
VIA = b"1.1 heroku-router"
_NO_BODY_STATUSES = frozenset({204, 304})

ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Application Error</title></head>\n"
    b"<body style='font-family:sans-serif;margin:3em'><h1>Application error</h1>\n"
    b"<p>An error occurred in the application and your page could not be served. "
    b"If you are the application owner, check your logs for details "
    b"(<code>heroku logs --tail</code>).</p></body></html>\n"
)

_DESCRIPTIONS = {
    "H10": "App crashed",
    "H11": "Backlog too deep",
    "H12": "Request timeout",
    "H13": "Connection closed without response",
    "H14": "No web processes running",
    "H18": "Server Request Interrupted",
    "H19": "Backend connection timeout",
    "H20": "App boot timeout",
    "H21": "Backend connection refused",
    "H27": "Client Request Interrupted",
    "H80": "Maintenance mode",
}


class Backend(NamedTuple):
    """An up web dyno the router may use: its name (web.1) and loopback port.

    A tuple, not a dataclass: it keys the per-dyno counters on every request, and
    tuple hashing is done in C.
    """

    name: str
    port: int


@dataclass(frozen=True, slots=True)
class WebStatus:
    """The web formation's size and its dynos by state (H10, H14, H20 decisions)."""

    quantity: int
    up: int
    starting: int
    crashed: int


class RouterTarget(Protocol):
    """What the router needs from its app (AppRuntime provides it)."""

    app_name: str
    maintenance: bool
    settings: RuntimeSettings
    logs: LogBuffer

    def web_backends(self) -> Sequence[Backend]: ...

    def web_status(self) -> WebStatus: ...


class _RouterError(Exception):
    """Ends a request with a Heroku H code (503 error page)."""

    def __init__(
        self, code: str, *, backend: Backend | None = None, at: str = "error", sock: str | None = None
    ) -> None:
        super().__init__(code)
        self.code = code
        self.backend = backend
        self.at = at
        self.sock = sock


class _Limiter:
    """Per-dyno active request counts and the app's backlog of waiting requests."""

    def __init__(self, target: RouterTarget) -> None:
        self._target = target
        self._active: dict[Backend, int] = {}
        self._waiters: deque[asyncio.Future[Backend]] = deque()

    def _free(self, backends: Sequence[Backend], exclude: frozenset[Backend]) -> Backend | None:
        limit = self._target.settings.active_per_dyno
        pick = random.choice(backends)
        if self._active.get(pick, 0) < limit and pick not in exclude:
            return pick
        open_ = [b for b in backends if self._active.get(b, 0) < limit and b not in exclude]
        return random.choice(open_) if open_ else None

    def _take(self, backend: Backend) -> Backend:
        self._active[backend] = self._active.get(backend, 0) + 1
        return backend

    async def acquire(self, exclude: frozenset[Backend] = frozenset()) -> Backend:
        """A dyno with a free active slot, waiting in the backlog if needed; H11 if the backlog is full."""
        backends = self._target.web_backends()
        pick = self._free(backends, exclude) if backends else None
        if pick is not None:
            return self._take(pick)
        live = [w for w in self._waiters if not w.done()]
        if len(live) >= self._target.settings.backlog_per_dyno * max(1, len(backends)):
            raise _RouterError("H11")
        waiter: asyncio.Future[Backend] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter  # the slot is already counted when it is handed over
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())  # handed a slot just as we gave up (H12): give it back
            raise

    def release(self, backend: Backend) -> None:
        """A request on `backend` ended: free its slot and hand capacity to the backlog."""
        count = self._active.get(backend, 1) - 1
        if count > 0:
            self._active[backend] = count
        else:
            self._active.pop(backend, None)
        self.drain()

    def drain(self) -> None:
        """Give free slots to waiting requests, oldest first."""
        while self._waiters:
            if self._waiters[0].done():
                self._waiters.popleft()
                continue
            backends = self._target.web_backends()
            pick = self._free(backends, frozenset()) if backends else None
            if pick is None:
                return
            self._waiters.popleft().set_result(self._take(pick))


def _new_request_id() -> str:
    """A random (version 4) uuid; not for secrets, so no os.urandom syscall per request."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


@dataclass(slots=True)
class _Exchange:
    """One request's routing facts, for its log line."""

    method: str
    path: str
    host: str
    request_id: str
    fwd: str
    protocol: str
    backend: Backend | None = None
    connect_ms: float | None = None
    service_ms: float | None = None
    status: int | None = None
    bytes: int | None = None
    sent: float = 0.0  # perf_counter when the request was written to the dyno


class Router:
    """Proxies the app's HTTP traffic to its up web dynos; serves on its own loopback port."""

    def __init__(self, target: RouterTarget, tls: ssl.SSLContext | None = None) -> None:
        self._target = target
        self._limiter = _Limiter(target)
        self._web_event = asyncio.Event()
        self._pool = UpstreamPool()
        self._listener = DualListener(self._connection, tls)
        self._clients: weakref.WeakSet[ClientConnection] = weakref.WeakSet()
        self.port = 0

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start serving HTTPS (with a TLS context) and HTTP on one port; returns the bound port."""
        self.port = self._listener.start(host, port)
        return self.port

    def _connection(self, tls: bool) -> ClientConnection:
        connection = ClientConnection(self._handle, tls=tls)
        self._clients.add(connection)
        return connection

    def web_changed(self) -> None:
        """The set of up web dynos changed: wake requests waiting for a dyno or a free slot."""
        self._web_event.set()
        self._web_event = asyncio.Event()
        self._limiter.drain()

    async def close(self) -> None:
        """Stop accepting, close client and dyno connections. Safe to call twice."""
        await self._listener.close()
        for client in list(self._clients):
            client.close()
        self._pool.close()

    # --- request handling ---------------------------------------------------------------------

    async def _handle(self, client: ClientConnection, request: ProxyRequest) -> None:
        """Route one request and relay the response; every outcome gets its log line."""
        started = time.perf_counter()
        exchange = self._exchange(request)
        try:
            relay, backend = await self._dispatch_in_time(request, exchange, started)
        except _RouterError as error:
            self._fail(client, request, error, exchange)
            return
        try:
            code = await self._relay(client, request, relay, exchange)
        finally:
            self._limiter.release(backend)
        if code == "H18":
            self._log(exchange, code="H18", at="error", sock="backend")
        elif code == "H27":
            self._log(exchange, code="H27", at="warning", sock="client")
        else:
            self._log(exchange)

    async def _relay(
        self, client: ClientConnection, request: ProxyRequest, relay: ResponseRelay, exchange: _Exchange
    ) -> str | None:
        """Send the dyno's response on; None when whole, else H18 (dyno broke off) or H27 (client left)."""
        head = relay.head.result()
        exchange.status = head.status
        if client.closed:  # the client gave up while the dyno worked (Heroku: H27, status 499)
            relay.upstream.discard()
            exchange.status, exchange.bytes = 499, 0
            exchange.service_ms = (time.perf_counter() - exchange.sent) * 1000.0
            return "H27"
        relay.attach(client, self._response_head(head, request), chunked_out=self._chunked_out(head, request))
        try:
            exchange.bytes = await relay.done
        except UpstreamClosed:
            exchange.bytes = relay.body_bytes
            exchange.service_ms = (time.perf_counter() - exchange.sent) * 1000.0
            client.close()
            return "H18"
        except ConnectionResetError:
            exchange.status, exchange.bytes = 499, relay.body_bytes
            exchange.service_ms = (time.perf_counter() - exchange.sent) * 1000.0
            return "H27"
        exchange.service_ms = (relay.finished_at - exchange.sent) * 1000.0
        return None

    def _exchange(self, request: ProxyRequest) -> _Exchange:
        client_id = request.header(b"x-request-id") or b""
        request_id = client_id.decode("ascii") if _REQUEST_ID.match(client_id) else _new_request_id()
        previous = request.header(b"x-forwarded-for")
        fwd = f"{previous.decode('latin-1')}, {request.peer}" if previous else request.peer
        host = (request.header(b"host") or b"").decode("latin-1")
        protocol = "https" if request.tls else "http"
        return _Exchange(request.method, request.target.decode("latin-1"), host, request_id, fwd, protocol)

    async def _dispatch_in_time(
        self, request: ProxyRequest, exchange: _Exchange, started: float
    ) -> tuple[ResponseRelay, Backend]:
        """Response headers from a dyno within `router_timeout_s` of arrival, else H12."""
        try:
            async with asyncio.timeout(self._target.settings.router_timeout_s):
                return await self._dispatch(request, exchange)
        except TimeoutError:
            exchange.service_ms = (time.perf_counter() - started) * 1000.0
            raise _RouterError("H12", backend=exchange.backend) from None

    async def _dispatch(self, request: ProxyRequest, exchange: _Exchange) -> tuple[ResponseRelay, Backend]:
        """Pick a dyno (backlog, H10/H11/H14/H20/H80 rules) and send the request; retry failed connects."""
        if self._target.maintenance:
            raise _RouterError("H80", at="info")
        await self._wait_for_web()
        if self._target.settings.router_hold_ms > 0:
            await asyncio.sleep(self._target.settings.router_hold_ms / 1000.0)
        tried: set[Backend] = set()
        payload = b""
        while True:
            backend = await self._limiter.acquire(frozenset(tried))
            exchange.backend = backend
            payload = payload or self._request_bytes(request, exchange)
            try:
                return await self._send(payload, request, exchange, backend), backend
            except BaseException as error:
                self._limiter.release(backend)
                retry = isinstance(error, _RouterError) and error.code in ("H19", "H21")
                tried.add(backend)
                if not retry or not [b for b in self._target.web_backends() if b not in tried]:
                    raise

    async def _wait_for_web(self) -> None:
        """H14/H10 at once, or hold the request while web dynos boot (H20 after `router_boot_wait_s`)."""
        if self._target.web_backends():
            return
        status = self._target.web_status()
        if status.quantity == 0:
            raise _RouterError("H14")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._target.settings.router_boot_wait_s
        while not self._target.web_backends():
            status = self._target.web_status()
            if status.starting == 0:
                raise _RouterError("H10" if status.quantity else "H14")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise _RouterError("H20")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._web_event.wait(), min(remaining, 0.25))

    async def _send(
        self, payload: bytes, request: ProxyRequest, exchange: _Exchange, backend: Backend
    ) -> ResponseRelay:
        """Write the request to the dyno and wait for the response head; failures become H13/H19/H21."""
        settings = self._target.settings
        fresh = False
        for attempt in (1, 2):
            began = time.perf_counter()
            try:
                upstream = await self._pool.acquire(
                    backend.port, connect_timeout_s=settings.connect_timeout_s, fresh=fresh
                )
            except ConnectFailed as failed:
                exchange.connect_ms = (time.perf_counter() - began) * 1000.0
                raise _RouterError("H19" if failed.timed_out else "H21", backend=backend) from None
            exchange.sent = time.perf_counter()
            exchange.connect_ms = (exchange.sent - began) * 1000.0
            relay = upstream.send(payload, head_only=request.method == "HEAD")
            try:
                await relay.head
            except UpstreamClosed as closed:
                if attempt == 1 and upstream.reused and not closed.got_bytes:
                    fresh = True  # a pooled connection the dyno had closed while idle
                    continue
                raise _RouterError("H13", backend=backend) from None
            except asyncio.CancelledError:
                upstream.discard()  # H12: the dyno may still answer; never reuse this connection
                raise
            return relay
        raise AssertionError("unreachable")

    def _request_bytes(self, request: ProxyRequest, exchange: _Exchange) -> bytes:
        """The request as the dyno gets it: hop-by-hop headers dropped, Heroku's headers added."""
        parts = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.target)]
        via = b""
        for name, value in request.headers:
            lower = name.lower()
            if lower == b"via":
                via = value + b", "
            if lower not in HOP_BY_HOP and lower not in _REPLACED:
                parts.append(b"%s: %s\r\n" % (name, value))
        parts.append(
            b"X-Request-Id: %s\r\nX-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\n"
            b"X-Forwarded-Port: %d\r\nX-Request-Start: %d\r\nVia: %s%s\r\n"
            % (
                exchange.request_id.encode("ascii"),
                exchange.fwd.encode("latin-1"),
                b"https" if request.tls else b"http",
                self.port,
                int(time.time() * 1000),
                via,
                VIA,
            )
        )
        if request.body or request.method in ("POST", "PUT", "PATCH"):
            parts.append(b"Content-Length: %d\r\n" % len(request.body))
        parts.append(b"\r\n")
        parts.append(request.body)
        return b"".join(parts)

    @staticmethod
    def _has_body(head: ResponseHead, request: ProxyRequest) -> bool:
        return request.method != "HEAD" and head.status not in _NO_BODY_STATUSES and head.status >= 200

    def _chunked_out(self, head: ResponseHead, request: ProxyRequest) -> bool:
        return head.content_length is None and self._has_body(head, request) and request.http_version == "1.1"

    def _response_head(self, head: ResponseHead, request: ProxyRequest) -> bytes:
        """The client's status line and headers: the dyno's, re-framed for this client, plus Via."""
        parts = [b"HTTP/1.1 %d %s\r\n" % (head.status, head.reason or b"Unknown")]
        for name, value in head.headers:
            if name.lower() not in HOP_BY_HOP:
                parts.append(b"%s: %s\r\n" % (name, value))
        parts.append(b"Via: %s\r\n" % VIA)
        if head.content_length is not None:
            parts.append(b"Content-Length: %d\r\n" % head.content_length)
        elif self._chunked_out(head, request):
            parts.append(b"Transfer-Encoding: chunked\r\n")
        elif self._has_body(head, request):
            request.keep_alive = False  # an HTTP/1.0 client: the body ends when the connection does
        if not request.keep_alive:
            parts.append(b"Connection: close\r\n")
        elif request.http_version == "1.0":
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    # --- errors and log lines -------------------------------------------------------------------

    def _fail(
        self, client: ClientConnection, request: ProxyRequest, error: _RouterError, exchange: _Exchange
    ) -> None:
        """The standard 503 error page, and the router's `at=error code=H..` line."""
        exchange.backend = error.backend
        exchange.status = 503
        if error.backend is None:
            exchange.connect_ms = exchange.service_ms = None
            exchange.bytes = None
        else:
            exchange.connect_ms = exchange.connect_ms or 0.0
            exchange.bytes = 0
            if exchange.service_ms is None:
                exchange.service_ms = (time.perf_counter() - exchange.sent) * 1000.0 if exchange.sent else 0.0
        self._log(exchange, code=error.code, at=error.at, sock=error.sock)
        client.write(error_response(503, b"Service Unavailable", ERROR_PAGE, keep_alive=request.keep_alive))

    def _log(
        self, exchange: _Exchange, *, code: str | None = None, at: str = "info", sock: str | None = None
    ) -> None:
        """One `heroku[router]` line in Heroku's format (NOTES §3.1); empty fields stay `key=`."""

        def ms(value: float | None) -> str:
            return "" if value is None else f"{round(value)}ms"

        prefix = f"sock={sock} at={at}" if sock else f"at={at}"
        if code is not None:
            prefix += f' code={code} desc="{_DESCRIPTIONS[code]}"'
        dyno = exchange.backend.name if exchange.backend is not None else ""
        message = (
            f'{prefix} method={exchange.method} path="{exchange.path}" host={exchange.host} '
            f'request_id={exchange.request_id} fwd="{exchange.fwd}" dyno={dyno} '
            f"connect={ms(exchange.connect_ms)} service={ms(exchange.service_ms)} "
            f"status={exchange.status if exchange.status is not None else ''} "
            f"bytes={exchange.bytes if exchange.bytes is not None else ''} protocol={exchange.protocol}"
        )
        self._target.logs.append("heroku", "router", message)
