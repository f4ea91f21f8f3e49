"""What the emulator's Platform API costs: start-up, request latency and rate, scale-up time.

Starts the emulator the way tests do (`EmulatorProcess`, a subprocess) and measures:

- ready: from `start()` to the ready file (API and routers listening, v1 deployed);
- latency: one connection, sequential `GET /apps/{app}/formation` (median and p95 ms);
- rate: `--concurrency` threads issuing the same GET for `--requests` calls in total (req/s);
- scale-up: `PATCH web=N` until every dyno reports `up` (s), then back to 1.

The bucket is refilled before each phase so 429s never skew the figures.

    .venv/bin/python bench/emulator_api_bench.py [--requests 2000] [--concurrency 8] [--dynos 4]
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from harness.emulator import EmulatorProcess

ACCEPT = "application/vnd.heroku+json; version=3"
APP = "harness-demo"


def _client(emulator: EmulatorProcess) -> httpx.Client:
    headers = {"Authorization": f"Bearer {emulator.token}", "Accept": ACCEPT}
    return httpx.Client(base_url=emulator.api_url, headers=headers, timeout=30)


def latency_ms(emulator: EmulatorProcess, count: int) -> list[float]:
    """Sequential GET formation on one keep-alive connection; each call's latency in ms."""
    samples = []
    with _client(emulator) as api:
        for _ in range(count):
            started = time.perf_counter()
            api.get(f"/apps/{APP}/formation").raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
    return samples


def rate_rps(emulator: EmulatorProcess, total: int, concurrency: int) -> float:
    """`total` GETs over `concurrency` threads (one client each); requests per second."""

    def worker(calls: int) -> None:
        with _client(emulator) as api:
            for _ in range(calls):
                api.get(f"/apps/{APP}/formation").raise_for_status()

    per_worker = max(1, total // concurrency)
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, [per_worker] * concurrency))
    return per_worker * concurrency / (time.perf_counter() - started)


def scale_up_s(emulator: EmulatorProcess, dynos: int) -> float:
    """Seconds from PATCH web=`dynos` to every dyno `up` (polling every 50 ms, 60 s at most)."""
    with _client(emulator) as api:
        started = time.perf_counter()
        api.patch(f"/apps/{APP}/formation/web", json={"quantity": dynos}).raise_for_status()
        deadline = started + 60
        while time.perf_counter() < deadline:
            states = [d["state"] for d in api.get(f"/apps/{APP}/dynos").json()]
            if len(states) == dynos and set(states) == {"up"}:
                elapsed = time.perf_counter() - started
                break
            time.sleep(0.05)
        else:
            raise SystemExit(f"web={dynos} did not come up within 60 s")
        api.patch(f"/apps/{APP}/formation/web", json={"quantity": 1}).raise_for_status()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="GETs for the rate phase")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads for the rate phase")
    parser.add_argument("--dynos", type=int, default=4, help="web dynos for the scale-up phase")
    args = parser.parse_args()
    started = time.perf_counter()
    emulator = EmulatorProcess.start(shutdown_grace_s=2.0)
    ready_s = time.perf_counter() - started
    try:
        emulator.drain_rate_limit(4500)
        samples = latency_ms(emulator, 500)
        emulator.drain_rate_limit(4500)
        rps = rate_rps(emulator, min(args.requests, 4400), args.concurrency)
        emulator.drain_rate_limit(4500)
        scale_s = scale_up_s(emulator, args.dynos)
    finally:
        emulator.stop()
    p95 = statistics.quantiles(samples, n=20)[-1]
    print(f"ready after start():       {ready_s:.2f} s")
    median = statistics.median(samples)
    print(f"GET formation latency:     median {median:.2f} ms, p95 {p95:.2f} ms (1 connection)")
    print(f"GET formation rate:        {rps:.0f} req/s ({args.concurrency} threads)")
    print(f"scale web 1->{args.dynos} until up:  {scale_s:.2f} s")


if __name__ == "__main__":
    main()
