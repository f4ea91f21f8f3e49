"""A keep-alive HTTP server with a known capacity, and optionally a metastable one (stdlib asyncio only).

Every request waits for one of `--slots` service slots and holds it for
`--service-ms` (an asyncio sleep: the capacity is slots / service time
whatever else the machine does), then gets a 2-byte 200. Connections are kept
alive and never limited, so the client alone decides how many there are.

`--metastable`: once more than `--trigger-queue` requests wait for a slot, the
service time is multiplied by `--slowdown` and stays so while load continues
(as a server that starts thrashing, swapping or retrying does); it recovers
only after `--recover-idle-s` with nothing in flight. Its capacity is then
slots / (service time × slowdown) until the client backs off completely.

`GET /stats` answers JSON: served, degraded, times degraded, longest queue,
open connections. The server prints `listening on PORT` once it accepts.

    python tests/apps/queue_server.py --port 0 --slots 4 --service-ms 20 [--metastable ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class QueueServer:
    """The server's state: slots, queue, and the metastable switch."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.slots = asyncio.Semaphore(args.slots)
        self.waiting = 0
        self.in_flight = 0
        self.degraded = False
        self.degradations = 0
        self.longest_queue = 0
        self.served = 0
        self.connections = 0
        self.idle_since = time.monotonic()

    def service_s(self) -> float:
        factor = self.args.slowdown if self.degraded else 1.0
        return self.args.service_ms * factor / 1000.0

    async def serve(self) -> None:
        """Hold a slot for the service time; trip or clear the metastable state on the way."""
        self.in_flight += 1
        self.waiting += 1
        self.longest_queue = max(self.longest_queue, self.waiting)
        if self.args.metastable and not self.degraded and self.waiting > self.args.trigger_queue:
            self.degraded = True
            self.degradations += 1
        try:
            async with self.slots:
                self.waiting -= 1
                await asyncio.sleep(self.service_s())
        finally:
            self.in_flight -= 1
            self.served += 1
            if self.in_flight == 0:
                self.idle_since = time.monotonic()

    async def recover(self) -> None:
        """A degraded server recovers after `recover_idle_s` with nothing in flight."""
        while True:
            await asyncio.sleep(0.05)
            idle = self.in_flight == 0 and time.monotonic() - self.idle_since >= self.args.recover_idle_s
            if self.degraded and idle:
                self.degraded = False

    def stats(self) -> bytes:
        body = json.dumps(
            {
                "served": self.served,
                "degraded": self.degraded,
                "degradations": self.degradations,
                "longest_queue": self.longest_queue,
                "connections": self.connections,
                "capacity_rps": self.args.slots / (self.args.service_ms / 1000.0),
            }
        ).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One keep-alive connection: requests (GET, no body) answered in order."""
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.startswith(b"GET /stats"):
                    writer.write(self.stats())
                else:
                    await self.serve()
                    writer.write(OK)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self.connections -= 1
            writer.close()


async def main(args: argparse.Namespace) -> None:
    state = QueueServer(args)
    server = await asyncio.start_server(state.handle, "127.0.0.1", args.port, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    recovery = asyncio.ensure_future(state.recover())
    try:
        async with server:
            await server.serve_forever()
    finally:
        recovery.cancel()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--service-ms", type=float, default=20.0)
    parser.add_argument("--metastable", action="store_true")
    parser.add_argument("--trigger-queue", type=int, default=20, help="waiting requests that degrade it")
    parser.add_argument("--slowdown", type=float, default=1.6, help="service time factor while degraded")
    parser.add_argument("--recover-idle-s", type=float, default=2.0, help="idle time that heals it")
    return parser.parse_args(argv)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(parse()))
