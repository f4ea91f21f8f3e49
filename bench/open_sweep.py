"""An open-model reference sweep, written independently of Locust and of harness (stdlib asyncio only).

A constant-rate client: request i of a step is *intended* at t0 + i / R on an
absolute timeline, whatever happened to the requests before it (wrk2's
model). Each request takes a free keep-alive connection (the most recently
used first) or opens one, up to `--max-connections`; beyond that it waits,
and the wait counts, because latency runs from the intended send time to the
end of the response. Requests still unanswered `--grace-s` after a step's
last slot count as failed, with infinite latency.

The sweep goes upward from `--start` req/s, multiplying by `1 + --step` each
step, and stops at the first step that breaks one of the limits twice: p95
(intended-start latency) above `--p95-ms`, error ratio above
`--error-ratio`, or successful throughput below (1 − `--saturation`) × the
offered rate. A broken step is re-run once after `--rest-s` without load and
with the connections closed (`--retries 0`: stop at the first break): one
noisy 3 s window on a shared machine must not end a reference that is meant
to be the truth, and the rest keeps an overload's backlog out of the re-run.
The reference is the successful throughput of the last good step. One JSON
object per step on stdout, then a summary object:

    python bench/open_sweep.py --url http://127.0.0.1:PORT/ --start 100 --step 0.025 --p95-ms 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Outcome:
    """One request: when it was meant to start, when its response ended, whether it succeeded."""

    intended: float
    done: float = math.inf
    ok: bool = False


@dataclass
class Pool:
    """Keep-alive connections to one host; idle ones on a stack (the most recently used on top)."""

    host: str
    port: int
    limit: int
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)
    opened: int = 0
    freed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self.freed:
            while not self.idle and self.opened >= self.limit:
                await self.freed.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        try:
            return await asyncio.open_connection(self.host, self.port)
        except OSError:
            await self.lost()
            raise

    async def give(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        async with self.freed:
            self.idle.append(conn)
            self.freed.notify()

    async def lost(self) -> None:
        async with self.freed:
            self.opened -= 1
            self.freed.notify()

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.opened -= len(self.idle)
        self.idle.clear()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(status, keep-alive) after reading one whole response (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() != "close"


async def _request(pool: Pool, request: bytes, outcome: Outcome, clock: asyncio.AbstractEventLoop) -> None:
    try:
        reader, writer = await pool.take()
    except OSError:
        outcome.done = clock.time()
        return
    try:
        writer.write(request)
        await writer.drain()
        status, keep = await _read_response(reader)
        outcome.done, outcome.ok = clock.time(), status < 400
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
        outcome.done = clock.time()
        keep = False
    except asyncio.CancelledError:
        writer.close()
        await pool.lost()
        raise
    if keep:
        await pool.give((reader, writer))
    else:
        writer.close()
        await pool.lost()


async def run_step(
    pool: Pool, request: bytes, rate: float, args: argparse.Namespace
) -> dict[str, float | bool]:
    """Offer `rate` req/s for warm-up + hold; judge the hold (slots intended inside it)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.01
    count = int(rate * (args.warmup_s + args.hold_s))
    outcomes = [Outcome(intended=t0 + i / rate) for i in range(count)]
    tasks: set[asyncio.Task[None]] = set()
    next_slot = 0
    while next_slot < count:
        now = loop.time()
        while next_slot < count and outcomes[next_slot].intended <= now:  # catch up: every due slot fires
            task = loop.create_task(_request(pool, request, outcomes[next_slot], loop))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            next_slot += 1
        if next_slot < count:
            await asyncio.sleep(max(0.0, outcomes[next_slot].intended - loop.time()))
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=args.grace_s)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
    w0, w1 = t0 + args.warmup_s, t0 + args.warmup_s + args.hold_s
    judged = [o for o in outcomes if w0 <= o.intended < w1]
    latencies = sorted(o.done - o.intended for o in judged)
    p95 = latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)] if latencies else math.inf
    failures = sum(1 for o in judged if not o.ok)
    served = sum(1 for o in outcomes if o.ok and w0 <= o.done < w1) / args.hold_s
    error_ratio = failures / len(judged) if judged else 1.0
    ok = (
        p95 * 1000 <= args.p95_ms
        and error_ratio <= args.error_ratio
        and served >= rate * (1 - args.saturation)
    )
    return {
        "rate": round(rate, 2),
        "served_rps": round(served, 2),
        "p95_ms": round(p95 * 1000, 1) if math.isfinite(p95) else -1.0,
        "error_ratio": round(error_ratio, 4),
        "connections": pool.opened,
        "ok": ok,
        "load_s": args.warmup_s + args.hold_s,
    }


async def sweep(args: argparse.Namespace) -> dict[str, object]:
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUser-Agent: open-sweep\r\n\r\n".encode()
    pool = Pool(host=host, port=port, limit=args.max_connections)
    rate, last_good, load_s, steps, retries, reruns = args.start, None, 0.0, 0, 0, 0
    started = time.monotonic()
    try:
        while rate <= args.max:
            step = await run_step(pool, request, rate, args)
            steps += 1
            load_s += float(step["load_s"])
            print(json.dumps(step), flush=True)
            if not step["ok"]:
                if retries >= args.retries:
                    break
                retries += 1
                reruns += 1
                pool.close()  # rested: no backlog, no connections
                await asyncio.sleep(args.rest_s)
                continue
            last_good, retries = step, 0
            rate *= 1 + args.step
    finally:
        pool.close()
    return {
        "summary": True,
        "reference_rps": last_good["served_rps"] if last_good else None,
        "last_good_rate": last_good["rate"] if last_good else None,
        "first_broken_rate": round(rate, 2) if rate <= args.max else None,
        "steps": steps,
        "reruns": reruns,
        "load_s": round(load_s, 2),
        "wall_s": round(time.monotonic() - started, 2),
    }


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="loopback only: http://127.0.0.1:PORT/path")
    parser.add_argument("--start", type=float, required=True, help="first rate, req/s")
    parser.add_argument("--step", type=float, default=0.025, help="relative increase per step")
    parser.add_argument("--max", type=float, default=100_000.0, help="never above this rate")
    parser.add_argument("--warmup-s", type=float, default=0.5, help="offered but not judged, per step")
    parser.add_argument("--hold-s", type=float, default=3.0, help="judged, per step")
    parser.add_argument("--grace-s", type=float, default=5.0, help="wait for answers after the last slot")
    parser.add_argument("--p95-ms", type=float, required=True)
    parser.add_argument("--error-ratio", type=float, default=0.01)
    parser.add_argument("--saturation", type=float, default=0.10, help="broken below (1 − this) × offered")
    parser.add_argument("--max-connections", type=int, default=512)
    parser.add_argument("--retries", type=int, default=1, help="re-runs of a broken step before it counts")
    parser.add_argument("--rest-s", type=float, default=2.0, help="no load before a re-run")
    args = parser.parse_args(argv)
    if urlsplit(args.url).hostname not in {"127.0.0.1", "localhost", "::1"}:
        parser.error("load goes to loopback only (127.0.0.1, localhost, ::1)")
    return args


if __name__ == "__main__":
    print(json.dumps(asyncio.run(sweep(parse(sys.argv[1:])))), flush=True)
