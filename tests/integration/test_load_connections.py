"""Arrival-rate mode on real Locust against a local server: connections follow demand, a slow generator shows.

The target is `tests/apps/queue_server.py` (a known capacity: slots / service
time). Each test drives a real `LoadSession` step by step and reads the
windows it measured, and the server's own count of open connections.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent
import httpx
from locust import FastHttpUser, constant, task

from harness.load.runner import LoadSession, SessionOptions
from harness.measurements import LevelMode, StepKind, StepPlan, StepWindow
from tests.apps import queue_server


class Client(FastHttpUser):
    """One request per task: in arrival-rate mode the offered rate is requests/s."""

    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/")


def step(index: int, rate: float, *, ramp_s: float = 0.5, hold_s: float = 3.0) -> StepPlan:
    return StepPlan(
        index=index,
        kind=StepKind.PROBE,
        level=rate,
        mode=LevelMode.ARRIVAL_RATE,
        ramp_s=ramp_s,
        hold_s=hold_s,
    )


def session(host: str) -> LoadSession:
    return LoadSession([Client], SessionOptions(host=host, locustfile=Path(__file__)))


def test_after_an_overload_a_quarter_step_holds_the_connections_its_concurrency_needs() -> None:
    # 12 slots x 20 ms = 600 req/s: 1,200 req/s queues hundreds of requests, a quarter of it is half the
    # capacity (the backlog drains in the quarter step's ramp).
    with queue_server("--slots", "12", "--service-ms", "20") as url, session(url) as s, gevent.Timeout(120):
        overload = s.run_step(step(0, 1200))
        quarter = s.run_step(step(1, 300, ramp_s=2.0))
        served_open = httpx.get(f"{url}/stats", timeout=10).json()["connections"] - 1  # minus this one
    assert overload.connections_max is not None and overload.connections_max > 150
    assert quarter.connections_max is not None and quarter.concurrency_max is not None
    # The connections its concurrency needs: the peak in flight (what 300 req/s x latency asks for).
    assert quarter.connections_max <= max(2 * quarter.concurrency_max, quarter.concurrency_max + 8)
    assert served_open <= max(2 * quarter.concurrency_max, quarter.concurrency_max + 8)  # the server agrees
    assert quarter.users >= overload.users  # users stay (idle ones cost no connection)


def burn(environment: Any, every: int = 10, burn_s: float = 0.04) -> Any:
    """A request listener that blocks the event loop for `burn_s` on every `every`-th request."""
    count = 0

    def listener(**_: Any) -> None:
        nonlocal count
        count += 1
        if count % every == 0:
            until = time.perf_counter() + burn_s
            while time.perf_counter() < until:
                pass

    environment.events.request.add_listener(listener)
    return listener


def p95(window: StepWindow, *, intended: bool) -> float:
    latency = window.total.intended_latency if intended else window.total.latency
    assert latency is not None and latency.p95_ms is not None
    return latency.p95_ms


def test_a_slow_generator_raises_intended_start_latency_and_is_flagged_while_service_latency_stays_low() -> (
    None
):
    with queue_server("--slots", "64", "--service-ms", "1") as url, session(url) as s, gevent.Timeout(120):
        calm = s.run_step(step(0, 100))
        listener = burn(s.environment)
        slow = s.run_step(step(1, 100))
        s.environment.events.request.remove_listener(listener)
    assert calm.total.requests > 200 and slow.total.requests > 200
    assert slow.generator_lagging and slow.generator_limited
    assert slow.schedule_lag_p99_ms is not None and calm.schedule_lag_p99_ms is not None
    assert slow.schedule_lag_p99_ms > max(20.0, calm.schedule_lag_p99_ms)
    # Slots due during a 40 ms burn start late: their latency from the intended start shows it ...
    assert p95(slow, intended=True) > 25.0
    # ... while the server still answers each request it gets in a few ms.
    assert p95(slow, intended=False) < 15.0
    assert p95(slow, intended=True) > 3 * p95(slow, intended=False)
