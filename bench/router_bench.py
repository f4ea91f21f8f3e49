"""How much the emulator's router costs: throughput and added latency, through it vs straight to the dyno.

Starts the demo app through `AppRuntime` (service time 0 ms, many slots, so the
dyno is as fast as it gets) and, in the same run, loads the dyno's own port and
the router with the same client and settings:

- latency: one connection, closed loop; the median through the router minus the
  median direct is the router's added latency;
- throughput: N connections for D seconds; the router's request rate, and the
  router's own CPU time per request (so its ceiling on one core is known even
  when the 2 cores are shared with the client and the dyno).

The client is `wrk` when installed (`apt-get install -y wrk`), else a bounded
aiohttp loop in a subprocess. Goal (issue 2): at least 5x one Standard-1X demo
dyno's capacity (400 req/s of `/`, so 2,000 req/s) with under 2 ms added median.

    .venv/bin/python bench/router_bench.py [--duration 5] [--connections 32] [--dynos 1] [--loop asyncio]

Measured 2026-11-29 on the project's 2-vCPU VM shared with other jobs, wrk,
1 dyno, 3 rounds of 3 s, 32 connections. At load average 2.7 with uvloop:
2,527 req/s through the router vs 2,491 direct (goal met: 1.26x), +0.51 ms
median at 1 connection, router CPU 254 µs/request (~3,900 req/s per free
core); same run on the default asyncio loop: 1,816 req/s, +0.41 ms, 260 µs.
At load average 5-6 the 2 cores are saturated by wrk, the dyno, the router and
other jobs: 1,240-1,850 req/s through vs 2,300-2,950 direct, +0.4-2.4 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

import harness.emulator.demo_app as demo_app
from harness.emulator.logs import LogBuffer
from harness.emulator.runtime import AppRuntime, DynoState, ReleaseRef, RuntimeSettings

GOAL_RPS = 5 * 400.0
GOAL_ADDED_MS = 2.0
DEMO_ENV = {"DEMO_SERVICE_MS_HOME": "0", "DEMO_SLOTS": "64"}

# A fallback client, run as its own process so it does not share the router's loop.
_PY_CLIENT = r"""
import asyncio, json, sys, time
import aiohttp

async def main(url, connections, duration):
    latencies = []
    deadline = time.perf_counter() + duration
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as session:
        async def worker():
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    print(json.dumps({"rps": len(latencies) / elapsed, "p50_ms": latencies[len(latencies) // 2] * 1000,
                      "requests": len(latencies)}))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
"""


@dataclass(frozen=True)
class Load:
    """One measured load: request rate (req/s), median latency (ms), requests served."""

    rps: float
    p50_ms: float
    requests: int


def _wrk_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


async def _run_client(url: str, connections: int, duration_s: float) -> Load:
    if shutil.which("wrk"):
        args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration_s))}s", "--latency", url]
    else:
        args = [sys.executable, "-c", _PY_CLIENT, url, str(connections), str(duration_s)]
    process = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), duration_s + 30)
    text = out.decode()
    if not shutil.which("wrk"):
        data = json.loads(text)
        return Load(data["rps"], data["p50_ms"], data["requests"])
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    p50 = _wrk_ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in text or "Socket errors" in text:
        print(f"  warning: client saw errors on {url}:\n{text}", file=sys.stderr)
    return Load(rps, p50, requests)


async def _measure(url: str, connections: int, duration_s: float) -> tuple[Load, tuple[float, float]]:
    """Load `url`; also the (user, system) CPU seconds this process (the router) used meanwhile."""
    me = psutil.Process()
    before = me.cpu_times()
    load = await _run_client(url, connections, duration_s)
    after = me.cpu_times()
    return load, (after.user - before.user, after.system - before.system)


async def _start(dynos: int) -> tuple[AppRuntime, list[str]]:
    runtime = AppRuntime(
        app_id="bench",
        app_name="bench",
        app_dir=Path(demo_app.__file__).parent,
        logs=LogBuffer(),
        settings=RuntimeSettings(active_per_dyno=10_000, backlog_per_dyno=10_000, metrics_interval_s=3600),
    )
    await runtime.start()
    await runtime.set_formation("web", dynos, "Standard-1X", ReleaseRef("bench", 1), DEMO_ENV)
    deadline = time.monotonic() + 30
    while not all(d.state is DynoState.UP for d in runtime.dynos()) or len(runtime.dynos()) < dynos:
        if time.monotonic() > deadline:
            raise SystemExit(f"dynos did not come up: {runtime.dynos()}")
        await asyncio.sleep(0.05)
    direct = [f"http://127.0.0.1:{d.port}/" for d in runtime.dynos()]
    return runtime, direct


@dataclass(frozen=True)
class Round:
    """One round: each path at 1 connection (latency) and at N connections (throughput)."""

    direct_1: Load
    router_1: Load
    direct_n: Load
    router_n: Load
    router_cpu_us: tuple[float, float]  # (user, kernel) CPU µs of the router per request at N connections


async def _round(direct_url: str, router_url: str, connections: int, duration_s: float) -> Round:
    direct_1, _ = await _measure(direct_url, 1, duration_s)
    router_1, _ = await _measure(router_url, 1, duration_s)
    direct_n, _ = await _measure(direct_url, connections, duration_s)
    router_n, (user_s, system_s) = await _measure(router_url, connections, duration_s)
    per_request = 1e6 / max(1, router_n.requests)
    return Round(direct_1, router_1, direct_n, router_n, (user_s * per_request, system_s * per_request))


def _report(rounds: list[Round], connections: int) -> bool:
    """Print the figures; True when the issue's goal is met. Best-of-rounds for throughput and CPU,
    median-of-rounds for added latency (the machine is shared, so single runs are noisy)."""
    added = statistics.median(r.router_1.p50_ms - r.direct_1.p50_ms for r in rounds)
    direct_p50 = statistics.median(r.direct_1.p50_ms for r in rounds)
    router_p50 = statistics.median(r.router_1.p50_ms for r in rounds)
    print(
        f"latency, 1 connection (median of {len(rounds)} rounds): direct {direct_p50:.3f} ms, "
        f"through router {router_p50:.3f} ms, added {added:.3f} ms (goal < {GOAL_ADDED_MS} ms)"
    )
    direct_rps = max(r.direct_n.rps for r in rounds)
    router_rps = max(r.router_n.rps for r in rounds)
    print(
        f"throughput, {connections} connections (best round): direct {direct_rps:,.0f} req/s, "
        f"through router {router_rps:,.0f} req/s, ratio {router_rps / direct_rps:.2f}; "
        f"router/goal {router_rps / GOAL_RPS:.2f}x"
    )
    user_us, kernel_us = min((r.router_cpu_us for r in rounds), key=sum)
    ceiling = 1e6 / (user_us + kernel_us)
    print(
        f"router CPU per request (best round): {user_us + kernel_us:.0f} us (user {user_us:.0f}, "
        f"kernel {kernel_us:.0f}) -> ceiling ~{ceiling:,.0f} req/s on one free core = "
        f"{ceiling / GOAL_RPS:.2f}x the goal of {GOAL_RPS:,.0f} req/s (5x one Standard-1X demo dyno on /)"
    )
    return router_rps >= GOAL_RPS and added < GOAL_ADDED_MS


async def main(duration_s: float, connections: int, dynos: int, rounds: int, loop: str) -> int:
    runtime, direct_urls = await _start(dynos)
    try:
        client = "wrk" if shutil.which("wrk") else "aiohttp"
        print(f"router {runtime.web_url} ({loop} loop) -> {dynos} demo dyno(s); client: {client}")
        print(
            f"load average before: {', '.join(f'{x:.2f}' for x in psutil.getloadavg())} "
            f"on {psutil.cpu_count()} CPUs"
        )
        await _run_client(runtime.web_url, connections, 1.0)  # warm both paths up
        await _run_client(direct_urls[0], connections, 1.0)
        measured = [
            await _round(direct_urls[0], runtime.web_url, connections, duration_s) for _ in range(rounds)
        ]
        met = _report(measured, connections)
        print(
            "goal met" if met else "goal NOT met in this run (see the CPU ceiling for the router's own cost)"
        )
        return 0
    finally:
        await runtime.close()


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="connections for throughput (default 32)")
    parser.add_argument("--dynos", type=int, default=1, help="web dynos behind the router (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds, direct/router alternated")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop for the router (default uvloop)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    options = _args()
    run = main(options.duration, options.connections, options.dynos, options.rounds, options.loop)
    if options.loop == "uvloop":
        import uvloop

        sys.exit(uvloop.run(run))
    sys.exit(asyncio.run(run))
