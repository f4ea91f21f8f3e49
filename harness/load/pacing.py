"""Arrival-rate (open model) pacing on top of Locust's closed model.

Locust users loop "task, wait, task"; `constant_throughput` paces each user on
its own, so users spawned together fire in phase, in bursts (LOCUST-NOTES,
"Measured on this kind of machine"). Here every user of a process draws the
next *global* start slot from one shared `Pacer` before each task: slots are
spaced 1/R apart (uniform) or exponentially (Poisson), so the process offers R
task starts per second however many users it runs, as long as enough users are
idle to take the slots. Users are wrapped by subclassing (`paced_user_classes`);
the locustfile is not edited. With no rate set the wrapper defers to the
class's own `wait_time`, so `harness worker` can always install it.

A rate is in task starts per second: with one request per task (the shipped
locustfiles) that is requests/s.
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections.abc import Callable
from typing import Any

import gevent
from locust import User

__all__ = ["Pacer", "PacingMode", "paced_user_classes", "users_for_rate"]

# Users per req/s of offered rate: covers this many seconds of latency per request
# before the rate can no longer be held (users ≈ R × (expected latency + margin)).
LATENCY_BUDGET_S = 1.0
MIN_USERS = 4


class PacingMode(enum.StrEnum):
    """How slots are spaced."""

    UNIFORM = "uniform"  # exactly 1/R apart: the steadiest offered load
    POISSON = "poisson"  # exponential gaps with mean 1/R: independent arrivals, like real traffic


class Pacer:
    """Hands out global start slots at `rate` per second; shared by every paced user of a process."""

    def __init__(
        self,
        *,
        mode: PacingMode = PacingMode.UNIFORM,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        self.mode = mode
        self._clock = clock
        self._random = random.Random(seed)
        self._rate: float | None = None
        self._next_slot = 0.0
        self.slots_taken = 0

    @property
    def rate(self) -> float | None:
        """Task starts per second, or None when pacing is off (users keep their own wait_time)."""
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the rate from now on; setting the same rate again changes nothing.

        Slots already handed to waiting users keep their times; the next one is at
        most one new gap away, so a change never fires a burst of extra slots.
        """
        rate = rate if rate and rate > 0 else None
        if rate == self._rate:
            return
        now = self._clock()
        self._next_slot = now if rate is None else max(now, min(self._next_slot, now + 1.0 / rate))
        self._rate = rate

    def delay(self) -> float:
        """Seconds the calling user waits for its next start slot (0 when a slot is already due)."""
        if self._rate is None:
            return 0.0
        now = self._clock()
        # A slot nobody was free to take is dropped, not fired late in a burst: the
        # shortfall shows as achieved < offered instead of hiding in a queue here.
        slot = max(self._next_slot, now)
        gap = 1.0 / self._rate
        if self.mode is PacingMode.POISSON:
            gap = self._random.expovariate(self._rate)
        self._next_slot = slot + gap
        self.slots_taken += 1
        return slot - now


def paced_user_classes(classes: list[type[User]], pacer: Pacer) -> list[type[User]]:
    """Subclasses (same names) whose users take a start slot from `pacer` before every task."""
    return [_paced(cls, pacer) for cls in classes]


def _paced(cls: type[User], pacer: Pacer) -> type[User]:
    original_wait_time = cls.wait_time

    def wait_time(self: User) -> float:
        if pacer.rate is None:
            return float(original_wait_time(self))
        return pacer.delay()

    def on_start(self: User) -> Any:
        result = cls.on_start(self)
        if pacer.rate is not None:
            gevent.sleep(pacer.delay())  # the first task is paced too (Locust only waits between tasks)
        return result

    namespace = {"wait_time": wait_time, "on_start": on_start, "__module__": cls.__module__}
    return type(cls.__name__, (cls,), namespace)


def users_for_rate(rate: float, *, cap: int, latency_budget_s: float = LATENCY_BUDGET_S) -> int:
    """Users needed to offer `rate` req/s while each request may take up to `latency_budget_s`."""
    return max(MIN_USERS, min(cap, math.ceil(rate * latency_budget_s) + MIN_USERS))
