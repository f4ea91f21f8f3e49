"""Heroku's API rate limit as a GCRA bucket: 4500 calls, refilling at 1.25 calls/s (NOTES §1.4).

GCRA keeps one number, the theoretical arrival time `tat` (seconds on the
injected monotonic clock): each call moves it one emission interval
(1/rate s) into the future, and a call is refused when that would put it more
than `capacity` intervals ahead of now. `remaining` is how many calls fit
before that happens, which is what `RateLimit-Remaining` reports.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

__all__ = ["DEFAULT_CAPACITY", "DEFAULT_RATE_PER_S", "GcraBucket"]

DEFAULT_CAPACITY = 4500
DEFAULT_RATE_PER_S = 4500 / 3600


class GcraBucket:
    """A generic cell-rate bucket: `take()` charges one call, `remaining()` is free."""

    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        rate_per_s: float = DEFAULT_RATE_PER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or rate_per_s <= 0:
            raise ValueError("capacity must be >= 1 and rate_per_s > 0")
        self.capacity = capacity
        self.interval_s = 1.0 / rate_per_s
        self._clock = clock
        self._tat = clock()

    def remaining(self) -> int:
        """Calls that would be allowed right now (0..capacity)."""
        backlog_s = max(self._tat - self._clock(), 0.0)
        free = (self.capacity * self.interval_s - backlog_s) / self.interval_s
        return max(0, min(self.capacity, math.floor(free + 1e-9)))

    def take(self) -> tuple[bool, int]:
        """Charge one call: (allowed, remaining afterwards)."""
        now = self._clock()
        new_tat = max(self._tat, now) + self.interval_s
        if new_tat - now > self.capacity * self.interval_s + 1e-9:
            return False, self.remaining()
        self._tat = new_tat
        return True, self.remaining()

    def drain_to(self, remaining: int) -> int:
        """Leave exactly `remaining` calls (fault injection); returns the new remaining count."""
        remaining = max(0, min(self.capacity, remaining))
        self._tat = self._clock() + (self.capacity - remaining) * self.interval_s
        return self.remaining()
