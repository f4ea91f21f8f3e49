"""Connections that follow demand: close a user's idle keep-alive connections, count the open ones.

Each Locust HTTP user holds its own keep-alive connection. A pool of users sized
for an overload would otherwise keep every connection open at every later,
lower level, which no real client population does (and which wedges servers
that accept a bounded number of connections: gunicorn's gthread worker stops
reading requests once it holds `worker_connections`). The pacer closes the
connections of users that have been idle for a while (`close_connections`);
the next request of such a user simply opens a new one.

`ConnectionCounter` counts, independently of Locust, the established TCP
connections to the target (the kernel's socket table), so a step records what
the server saw.
"""

from __future__ import annotations

import socket
import struct
import sys
from urllib.parse import urlsplit

import gevent
import psutil
from gevent import monkey
from locust import FastHttpUser, HttpUser, User

__all__ = ["ConnectionCounter", "close_connections"]


def close_connections(user: User) -> None:
    """Close `user`'s own HTTP connections; its next request reconnects (a shared class pool stays open).

    geventhttpclient's client pool forgets its clients on `close()` and makes new
    ones on the next request, and a requests `Session` reopens its adapters' pools.
    """
    if isinstance(user, FastHttpUser):
        if user.client_pool is None:
            user.client.client.clientpool.close()
    elif isinstance(user, HttpUser):
        client = getattr(user, "client", None)
        if client is not None:
            client.close()


class ConnectionCounter:
    """Established TCP connections from this machine to the target's address and port (the kernel's view).

    On Linux the kernel's socket table is asked over netlink (`sock_diag`, what
    `ss` uses) with a destination-port filter; elsewhere psutil lists this
    process's connections. Either walks every socket of the machine, which takes
    tens of milliseconds on a busy host, so `count()` runs in gevent's thread pool:
    the event loop, and with it the pacer's timeline, keeps running meanwhile.
    """

    def __init__(self, host: str) -> None:
        parts = urlsplit(host)
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.addresses = _addresses(parts.hostname or "localhost", self.port)
        self._packed = {_pack(a) for a in self.addresses}
        self._netlink = sys.platform.startswith("linux")

    def count(self) -> int:
        """Open connections now (0 when they cannot be counted)."""
        try:
            return int(gevent.get_hub().threadpool.apply(self.count_blocking))
        except (OSError, psutil.Error):
            return 0

    def count_blocking(self) -> int:
        """The same, blocking the calling thread."""
        if self._netlink:
            try:
                return sum(self._netlink_count(family) for family in (socket.AF_INET, socket.AF_INET6))
            except OSError:
                self._netlink = False  # e.g. no sock_diag in this container: fall back for good
        return self._psutil_count()

    def _netlink_count(self, family: int) -> int:
        native = monkey.get_original("socket", "socket")
        with native(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
            nl.sendto(_dump_request(family, self.port), (0, 0))
            found = 0
            while True:
                data = nl.recv(1 << 16)
                offset = 0
                while offset + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, offset)
                    if kind in (_NLMSG_DONE, _NLMSG_ERROR):
                        return found
                    found += self._matches(data, offset + 16, family)
                    offset += (length + 3) & ~3

    def _matches(self, data: bytes, msg: int, family: int) -> bool:
        """An inet_diag_msg: family, state, timer, retrans, then sport, dport, src[16], dst[16]."""
        size = 4 if family == socket.AF_INET else 16
        dport = struct.unpack_from(">H", data, msg + 6)[0]
        return bool(dport == self.port and data[msg + 24 : msg + 24 + size] in self._packed)

    def _psutil_count(self) -> int:
        connections = psutil.Process().net_connections(kind="tcp")
        return sum(
            1
            for c in connections
            if c.status == psutil.CONN_ESTABLISHED
            and c.raddr
            and c.raddr.port == self.port
            and c.raddr.ip in self.addresses
        )


# sock_diag over netlink (linux/sock_diag.h, linux/inet_diag.h).
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x1 | 0x300
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_TCP_ESTABLISHED = 1
_INET_DIAG_REQ_BYTECODE = 1
_INET_DIAG_BC_D_EQ = 12


def _dump_request(family: int, port: int) -> bytes:
    """A dump of established TCP sockets of `family` whose destination port is `port` (filtered in-kernel)."""
    # One condition: "dport == port" → accept (jump to the end), else reject (jump past it).
    bytecode = struct.pack("=BBH", _INET_DIAG_BC_D_EQ, 8, 12) + struct.pack("=BBH", 0, 0, port)
    attribute = struct.pack("=HH", 4 + len(bytecode), _INET_DIAG_REQ_BYTECODE) + bytecode
    request = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 1 << _TCP_ESTABLISHED) + bytes(48)
    body = request + attribute
    header = struct.pack("=IHHII", 16 + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, 1, 0)
    return header + body


def _pack(address: str) -> bytes:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return socket.inet_pton(family, address)


def _addresses(hostname: str, port: int) -> frozenset[str]:
    """Every address `hostname` resolves to (an unresolvable host has none: the count is then 0)."""
    try:
        infos = socket.getaddrinfo(hostname, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return frozenset()
    found = {str(info[4][0]).split("%")[0] for info in infos}
    # An IPv4 peer of a dual-stack socket shows as '::ffff:a.b.c.d'.
    return frozenset(found | {f"::ffff:{a}" for a in found if ":" not in a})
