"""One router port for HTTPS and plain HTTP, as one Heroku hostname answers both.

Heroku's router serves `https://app.herokuapp.com` and `http://app.herokuapp.com`;
an app that redirects HTTP to HTTPS (Django's `SECURE_SSL_REDIRECT`) sends the
client to the same host. Locally each app has one port, so the listener looks
at each new connection's first byte without consuming it (`MSG_PEEK`): 0x16 is
a TLS handshake record, anything else is plain HTTP. The socket is then handed
to the loop with or without TLS (`connect_accepted_socket`), so the protocol
sees an ordinary transport either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable

__all__ = ["DualListener"]

_TLS_HANDSHAKE = 0x16
_ACCEPTS_PER_WAKE = 64
HANDSHAKE_TIMEOUT_S = 10.0


class DualListener:
    """Accepts on one loopback port; each connection gets `factory(tls)` over TLS or plain TCP."""

    def __init__(self, factory: Callable[[bool], asyncio.Protocol], context: ssl.SSLContext | None) -> None:
        self._factory = factory
        self._context = context
        self._sock: socket.socket | None = None
        self._sniffing: dict[int, socket.socket] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    def start(self, host: str, port: int) -> int:
        """Bind and listen (backlog 4096); returns the bound port."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(4096)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        asyncio.get_running_loop().add_reader(sock.fileno(), self._accept)
        return self.port

    def _accept(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        for _ in range(_ACCEPTS_PER_WAKE):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # EMFILE and friends: try again on the next wake-up
                return
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sniffing[conn.fileno()] = conn
            loop.add_reader(conn.fileno(), self._sniff, conn)

    def _sniff(self, conn: socket.socket) -> None:
        """The first byte has arrived (or the client closed): choose TLS or plain HTTP."""
        loop = asyncio.get_running_loop()
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return  # spurious wake-up: the reader stays registered
        except OSError:
            first = b""
        loop.remove_reader(conn.fileno())
        self._sniffing.pop(conn.fileno(), None)
        if not first:
            conn.close()
            return
        tls = first[0] == _TLS_HANDSHAKE and self._context is not None
        task = loop.create_task(self._hand_over(conn, tls))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hand_over(self, conn: socket.socket, tls: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            if tls:
                await loop.connect_accepted_socket(
                    lambda: self._factory(True),
                    conn,
                    ssl=self._context,
                    ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S,
                )
            else:
                await loop.connect_accepted_socket(lambda: self._factory(False), conn)
        except (OSError, ssl.SSLError, TimeoutError):
            conn.close()  # a client that does not trust the CA, or left mid-handshake
        except asyncio.CancelledError:
            conn.close()
            raise

    async def close(self) -> None:
        """Stop accepting; close connections not yet handed over. Safe to call twice."""
        sock, self._sock = self._sock, None
        if sock is None:
            return
        loop = asyncio.get_running_loop()
        loop.remove_reader(sock.fileno())
        sock.close()
        for fd, conn in list(self._sniffing.items()):
            loop.remove_reader(fd)
            conn.close()
        self._sniffing.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
