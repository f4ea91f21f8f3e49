"""What a load session is given: its options, its clock, and a reachable target.

`SessionOptions` come from scenarios.yaml's `load_generator` and the scenario;
time comes from an injectable `Clock` so that the driver's waiting logic has
one seam (unit tests drive it on simulated time).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import gevent

from harness.config import AbortCondition
from harness.errors import LoadError
from harness.load.pacing import LATENCY_BUDGET_S, PacingMode
from harness.load.slots import LAG_FLOOR_MS

__all__ = ["Clock", "SessionOptions", "WallClock", "ensure_reachable"]


class Clock(Protocol):
    """Where the driver gets the time (epoch seconds) and how it waits."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Real time; sleeping yields to the gevent loop so users keep running."""

    # Epoch seconds: the builtin itself, not a method around it (the request sink reads it on
    # every request's path).
    now = staticmethod(time.time)

    def sleep(self, seconds: float) -> None:
        """Cooperative sleep."""
        gevent.sleep(seconds)


@dataclass(frozen=True, kw_only=True)
class SessionOptions:
    """How to generate load for one scenario (from scenarios.yaml's `load_generator` and the scenario)."""

    host: str
    locustfile: Path  # workers import it themselves
    workers: int = 0  # local `harness worker` processes to start
    expect_workers: int = 0  # remote workers that must join
    master_bind_host: str = "127.0.0.1"
    master_bind_port: int = 0  # 0: a free port
    worker_join_timeout_s: float = 60.0
    request_timeout_s: float = 35.0
    spawn_rate: float = 50.0
    pacing: PacingMode = PacingMode.UNIFORM
    max_users: int = 2000  # arrival-rate mode: the ceiling on users, requests in flight and connections
    # Arrival-rate mode: a step at R req/s may hold up to R × this many requests in flight (its
    # concurrency ceiling, and the users spawned for it); more waiting counts as latency.
    latency_budget_s: float = LATENCY_BUDGET_S
    lag_limit_ms: float = LAG_FLOOR_MS  # scheduling lag p99 above this: the step is "generator lagging"
    abort: AbortCondition | None = None
    total_s: float | None = None  # planned scenario length, for "time left"
    ca_file: Path | None = None  # a CA to trust besides the system's: the emulator's, for emulator targets

    @property
    def distributed(self) -> bool:
        """Whether a master with workers generates the load."""
        return self.workers + self.expect_workers > 0


def ensure_reachable(host: str, timeout_s: float = 5.0) -> None:
    """A LoadError up front when nothing listens at `host` (instead of a run of 100 % failures)."""
    parts = urlsplit(host)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout_s):
            return
    except OSError as exc:
        raise LoadError(
            f"cannot connect to {parts.scheme}://{parts.hostname}:{port} ({exc.strerror or exc}). "
            "Check --host (or that the emulator/app is running) and retry."
        ) from None
