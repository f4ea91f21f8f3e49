"""The app's router: one aiohttp server per app on loopback, with Heroku's routing semantics.

Each request goes to a randomly chosen `up` web dyno (Heroku's random
selection) among those under `active_per_dyno` in-flight requests; when every
dyno is at its limit the request waits in a backlog of at most
`backlog_per_dyno * n_up` requests, beyond which it gets H11 at once. Errors
are Heroku's (NOTES §3.2): a 503 error page and a `heroku[router]` log line
with `at=error code=H.. desc="..."`:

- H10 web dynos exist, none is up and none is booting (crashed);
- H11 backlog too deep; H12 no response headers within `router_timeout_s`
  (counted from arrival, backlog wait included);
- H13 the dyno closed the connection without a response;
- H14 web formation is 0; H80 maintenance mode (`at=info`);
- H19/H21 connecting timed out / was refused on every dyno tried (other
  dynos are tried first); H20 no web dyno came up within `router_boot_wait_s`.

Connections to dynos are pooled (keep-alive, idle ones dropped after 1 s so
a dyno's own keep-alive timeout never races us); a request that finds its
pooled connection closed before any response is retried once on a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import random
import re
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from harness.emulator.logs import LogBuffer

if TYPE_CHECKING:
    from harness.emulator.runtime import RuntimeSettings

__all__ = ["ERROR_PAGE", "Backend", "Router", "RouterTarget", "WebStatus"]

# Heroku keeps a client's X-Request-Id if it is 20-200 of these characters, else makes a new one.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9+/=-]{20,200}$")
# Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus the ones we recompute.
_HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
        "Content-Length",
    )
)
VIA = "1.1 heroku-router"
# Bodies up to this size (bytes) are read whole and sent with Content-Length; larger ones stream.
BUFFER_LIMIT = 1 << 20
# Idle pooled connections to dynos are closed after this (s): shorter than any server's keep-alive.
KEEPALIVE_S = 1.0

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
    "H80": "Maintenance mode",
}

# Time (ms) the last `connect()` of this request's task took; set by `_TimedConnector`.
_connect_ms: contextvars.ContextVar[float] = contextvars.ContextVar("connect_ms", default=0.0)


@dataclass(frozen=True, slots=True)
class Backend:
    """An up web dyno the router may use: its name (web.1) and loopback port."""

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


class _TimedConnector(aiohttp.TCPConnector):
    """A pooling connector that records how long obtaining a connection took (the log's `connect=`)."""

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        started = time.perf_counter()
        try:
            return await super().connect(req, traces, timeout)
        finally:
            _connect_ms.set((time.perf_counter() - started) * 1000.0)


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


@dataclass
class _Exchange:
    """One request's routing facts, for its log line."""

    method: str
    path: str
    host: str
    request_id: str
    fwd: str
    backend: Backend | None = None
    connect_ms: float | None = None
    service_ms: float | None = None
    status: int | None = None
    bytes: int | None = None
    sent: float = 0.0  # perf_counter when the request was sent to the dyno


class Router:
    """Proxies the app's HTTP traffic to its up web dynos; serves on its own loopback port."""

    def __init__(self, target: RouterTarget) -> None:
        self._target = target
        self._limiter = _Limiter(target)
        self._web_event = asyncio.Event()
        self._runner: web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    async def start(self, *, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start serving; returns the bound port."""
        connector = _TimedConnector(
            limit=0, limit_per_host=0, keepalive_timeout=KEEPALIVE_S, ttl_dns_cache=None
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._target.settings.connect_timeout_s),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        server = web.Server(self._handle, access_log=None)
        self._runner = web.ServerRunner(server, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=4096)
        await site.start()
        sockets = self._runner.addresses
        self.port = int(sockets[0][1]) if sockets else port
        return self.port

    def web_changed(self) -> None:
        """The set of up web dynos changed: wake requests waiting for a dyno or a free slot."""
        self._web_event.set()
        self._web_event = asyncio.Event()
        self._limiter.drain()

    async def close(self) -> None:
        """Stop accepting, drop the connection pool. Safe to call twice."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- request handling ---------------------------------------------------------------------

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        exchange = self._exchange(request)
        try:
            upstream, backend = await self._dispatch_in_time(request, exchange, started)
        except _RouterError as error:
            return self._fail(error, exchange)
        try:
            response = await self._respond(request, upstream, exchange)
        except _RouterError as error:
            return self._fail(error, exchange)
        finally:
            upstream.release()
            self._limiter.release(backend)
        self._log(exchange)
        return response

    def _exchange(self, request: web.BaseRequest) -> _Exchange:
        client_id = request.headers.get("X-Request-Id", "")
        request_id = client_id if _REQUEST_ID.match(client_id) else str(uuid.uuid4())
        peer = request.remote or "127.0.0.1"
        previous = request.headers.get("X-Forwarded-For")
        fwd = f"{previous}, {peer}" if previous else peer
        return _Exchange(request.method, request.raw_path, request.host, request_id, fwd)

    async def _dispatch_in_time(
        self, request: web.BaseRequest, exchange: _Exchange, started: float
    ) -> tuple[aiohttp.ClientResponse, Backend]:
        """Response headers from a dyno within `router_timeout_s` of arrival, else H12."""
        try:
            async with asyncio.timeout(self._target.settings.router_timeout_s):
                return await self._dispatch(request, exchange)
        except TimeoutError:
            exchange.service_ms = (time.perf_counter() - started) * 1000.0
            raise _RouterError("H12", backend=exchange.backend) from None

    async def _dispatch(
        self, request: web.BaseRequest, exchange: _Exchange
    ) -> tuple[aiohttp.ClientResponse, Backend]:
        """Pick a dyno (backlog, H10/H11/H14/H20/H80 rules) and send the request; retry refused connects."""
        if self._target.maintenance:
            raise _RouterError("H80", at="info")
        await self._wait_for_web()
        body = await request.read() if request.body_exists else None
        tried: set[Backend] = set()
        while True:
            backend = await self._limiter.acquire(frozenset(tried))
            exchange.backend = backend
            try:
                return await self._send(request, exchange, backend, body), backend
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

    def _upstream_headers(self, request: web.BaseRequest, exchange: _Exchange) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for key, value in request.headers.items():
            if key.lower() not in _HOP_BY_HOP:
                headers.add(key, value)
        headers["X-Request-Id"] = exchange.request_id
        headers["X-Forwarded-For"] = exchange.fwd
        headers["X-Forwarded-Proto"] = "http"
        headers["X-Forwarded-Port"] = str(self.port)
        headers["X-Request-Start"] = str(int(time.time() * 1000))
        via = request.headers.get("Via")
        headers["Via"] = f"{via}, {VIA}" if via else VIA
        return headers

    async def _send(
        self, request: web.BaseRequest, exchange: _Exchange, backend: Backend, body: bytes | None
    ) -> aiohttp.ClientResponse:
        """The dyno's response (headers read); connection failures become H13/H19/H21."""
        assert self._session is not None
        url = URL(f"http://127.0.0.1:{backend.port}{request.raw_path}", encoded=True)
        headers = self._upstream_headers(request, exchange)
        for attempt in (1, 2):
            exchange.sent = time.perf_counter()
            try:
                upstream = await self._session.request(
                    request.method, url, headers=headers, data=body, allow_redirects=False
                )
            except aiohttp.ServerDisconnectedError:
                exchange.connect_ms = _connect_ms.get()
                if attempt == 1:
                    continue  # maybe a pooled connection the dyno closed while idle: once more, fresh
                raise _RouterError("H13", backend=backend) from None
            except aiohttp.ConnectionTimeoutError:
                exchange.connect_ms = (time.perf_counter() - exchange.sent) * 1000.0
                raise _RouterError("H19", backend=backend) from None
            except aiohttp.ClientConnectorError:
                exchange.connect_ms = (time.perf_counter() - exchange.sent) * 1000.0
                raise _RouterError("H21", backend=backend) from None
            except (aiohttp.ClientOSError, aiohttp.ClientPayloadError, aiohttp.ServerTimeoutError):
                exchange.connect_ms = _connect_ms.get()
                raise _RouterError("H13", backend=backend) from None
            exchange.connect_ms = _connect_ms.get()
            return upstream
        raise AssertionError("unreachable")

    async def _respond(
        self, request: web.BaseRequest, upstream: aiohttp.ClientResponse, exchange: _Exchange
    ) -> web.StreamResponse:
        """Copy the dyno's response to the client: buffered when small and sized, else streamed."""
        headers: CIMultiDict[str] = CIMultiDict()
        for key, value in upstream.headers.items():
            if key.lower() not in _HOP_BY_HOP:
                headers.add(key, value)
        headers.add("Via", VIA)
        exchange.status = upstream.status
        length = upstream.content_length
        if length is not None and length <= BUFFER_LIMIT:
            try:
                body = await upstream.read()
            except (aiohttp.ClientError, OSError):
                raise _RouterError("H18", backend=exchange.backend, sock="backend") from None
            exchange.bytes = len(body)
            exchange.service_ms = self._service_ms(exchange)
            return web.Response(status=upstream.status, reason=upstream.reason, headers=headers, body=body)
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        await response.prepare(request)
        exchange.bytes = 0
        try:
            async for chunk in upstream.content.iter_any():
                exchange.bytes += len(chunk)
                await response.write(chunk)
        except (aiohttp.ClientError, OSError):
            exchange.service_ms = self._service_ms(exchange)
            self._log(exchange, code="H18", sock="backend")
            raise  # the client sees the connection end mid-body, as from Heroku
        await response.write_eof()
        exchange.service_ms = self._service_ms(exchange)
        return response

    @staticmethod
    def _service_ms(exchange: _Exchange) -> float:
        return max(0.0, (time.perf_counter() - exchange.sent) * 1000.0 - (exchange.connect_ms or 0.0))

    # --- errors and log lines -------------------------------------------------------------------

    def _fail(self, error: _RouterError, exchange: _Exchange) -> web.Response:
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
                exchange.service_ms = self._service_ms(exchange) if exchange.sent else 0.0
        self._log(exchange, code=error.code, at=error.at, sock=error.sock)
        return web.Response(
            status=503,
            body=ERROR_PAGE,
            headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache, no-store"},
        )

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
            f"bytes={exchange.bytes if exchange.bytes is not None else ''} protocol=http"
        )
        self._target.logs.append("heroku", "router", message)
