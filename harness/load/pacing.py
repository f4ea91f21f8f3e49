"""Arrival-rate (open model) pacing on top of Locust's closed model.

Locust users loop "task, wait, task"; `constant_throughput` paces each user on
its own, so users spawned together fire in phase, in bursts (LOCUST-NOTES,
"Measured on this kind of machine"). Here every user of a process waits for
the next *global* start slot of one shared `Pacer` before each task: slots are
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
from collections import deque
from typing import Any

import gevent
from gevent.event import Event
from locust import User

__all__ = ["Pacer", "PacingMode", "paced_user_classes", "users_for_rate"]

# Users per req/s of offered rate: covers this many seconds of latency per request
# before the rate can no longer be held (users ≈ R × (expected latency + margin)).
LATENCY_BUDGET_S = 1.0
MIN_USERS = 4
# Slots more than this late (a starved event loop) are dropped instead of fired at once.
MAX_LAG_S = 0.25


class PacingMode(enum.StrEnum):
    """How slots are spaced."""

    UNIFORM = "uniform"  # exactly 1/R apart: the steadiest offered load
    POISSON = "poisson"  # exponential gaps with mean 1/R: independent arrivals, like real traffic


class Pacer:
    """Releases waiting users at `rate` start slots per second; one per process, shared by its users.

    A dispatcher greenlet ticks through the slots; at each slot it releases the
    longest-waiting user. A slot with no user waiting is dropped, not fired late
    in a burst: the shortfall shows as achieved < offered. Nothing is reserved
    ahead, so a rate change or stopped users never leave gaps or bursts behind.
    """

    def __init__(self, *, mode: PacingMode = PacingMode.UNIFORM, seed: int | None = None) -> None:
        self.mode = mode
        self._random = random.Random(seed)
        self._rate: float | None = None
        self._waiters: deque[Event] = deque()
        self._dispatcher: gevent.Greenlet | None = None
        self.released = 0  # slots given to a user
        self.dropped = 0  # slots nobody was free to take

    @property
    def rate(self) -> float | None:
        """Task starts per second, or None when pacing is off (users keep their own wait_time)."""
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        """Change the rate now (None: off, and every waiting user is released)."""
        self._rate = rate if rate and rate > 0 else None
        if self._rate is None:
            self.close()
        elif self._dispatcher is None or self._dispatcher.dead:
            self._dispatcher = gevent.spawn(self._dispatch)

    def wait(self) -> None:
        """Block the calling user until the dispatcher gives it a slot (at once when pacing is off)."""
        if self._rate is None:
            return
        released = Event()
        self._waiters.append(released)
        try:
            released.wait()
        finally:
            if not released.is_set():  # the user was stopped while waiting
                self._waiters.remove(released)

    def close(self) -> None:
        """Stop dispatching and release everyone waiting."""
        self._rate = None
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None and dispatcher is not gevent.getcurrent():
            dispatcher.kill(block=False)
        while self._waiters:
            self._waiters.popleft().set()

    def _gap(self, rate: float) -> float:
        if self.mode is PacingMode.POISSON:
            return self._random.expovariate(rate)
        return 1.0 / rate

    def _dispatch(self) -> None:
        next_slot = time.monotonic()
        while self._rate is not None:
            now = time.monotonic()
            if now - next_slot > MAX_LAG_S:  # the loop was starved: skip, never burst to catch up
                self.dropped += int((now - next_slot) * self._rate)
                next_slot = now
            while next_slot <= now and self._rate is not None:
                if self._waiters:
                    self._waiters.popleft().set()
                    self.released += 1
                else:
                    self.dropped += 1
                next_slot += self._gap(self._rate)
            gevent.sleep(max(0.0, next_slot - time.monotonic()))


def paced_user_classes(classes: list[type[User]], pacer: Pacer) -> list[type[User]]:
    """Subclasses (same names) whose users take a start slot from `pacer` before every task."""
    return [_paced(cls, pacer) for cls in classes]


def _paced(cls: type[User], pacer: Pacer) -> type[User]:
    original_wait_time = cls.wait_time

    def wait_time(self: User) -> float:
        if pacer.rate is None:
            return float(original_wait_time(self))
        pacer.wait()  # the dispatcher releases this user at its slot
        return 0.0

    def on_start(self: User) -> Any:
        result = cls.on_start(self)
        pacer.wait()  # the first task is paced too (Locust only waits between tasks)
        return result

    namespace = {"wait_time": wait_time, "on_start": on_start, "__module__": cls.__module__}
    return type(cls.__name__, (cls,), namespace)


def users_for_rate(rate: float, *, cap: int, latency_budget_s: float = LATENCY_BUDGET_S) -> int:
    """Users needed to offer `rate` req/s while each request may take up to `latency_budget_s`."""
    return max(MIN_USERS, min(cap, math.ceil(rate * latency_budget_s) + MIN_USERS))
