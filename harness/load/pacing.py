"""Arrival-rate (open model) pacing on top of Locust's closed model.

Locust users loop "task, wait, task"; `constant_throughput` paces each user on
its own, so users spawned together fire in phase, in bursts (LOCUST-NOTES,
"Measured on this kind of machine"). Here every user of a process waits for
the next *global* start slot of one shared `Pacer` before each task: slots lie
on an absolute timeline spaced 1/R apart (uniform) or exponentially (Poisson),
so the process offers R task starts per second however many users it runs.

Three properties keep the figures honest (wrk2's model):

- **Intended start.** Each slot keeps the time it was due. When no user is
  free (or the step's concurrency ceiling is reached), the slot waits in a
  queue and the next user to come back takes the oldest one at once: the wait
  counts against that request's latency, which `stats.RequestSink` measures
  from the slot, beside Locust's service latency. Slots are never dropped for
  being late; only slots still queued when the rate changes (or older than
  `MAX_QUEUED_S`) are, and they are counted (offered but not sent).
- **Scheduling lag.** For each slot, how late its request really started
  compared with the later of the slot and the moment a user was free for it:
  a starved event loop or a slow listener shows here, waiting for the app
  does not.
- **Connections follow demand.** Free users wait on a stack and the most
  recently used one takes the next slot, so a small, warm set of users does
  the work; users idle longer than `IDLE_CLOSE_S` close their connections
  (`connections.close_connections`). After an overload the connections drop
  back to what the lower level's concurrency needs.

Users are wrapped by subclassing (`paced_user_classes`); the locustfile is not
edited. With no rate set the wrapper defers to the class's own `wait_time`, so
`harness worker` can always install it. A rate is in task starts per second:
with one request per task (the shipped locustfiles) that is requests/s.
"""

from __future__ import annotations

import enum
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.event import Event
from greenlet import greenlet as RawGreenlet
from locust import User

from harness.load.connections import close_connections

__all__ = [
    "IDLE_CLOSE_S",
    "Pacer",
    "PacerCounters",
    "PacingMode",
    "Slot",
    "latency_budget_for",
    "paced_user_classes",
    "users_for_rate",
]

# Users per req/s of offered rate: covers this many seconds of latency per request
# before the rate can no longer be held (users ≈ R × (expected latency + margin)).
LATENCY_BUDGET_S = 1.0
# With latency limits, the budget is this multiple of the loosest one.
BUDGET_PER_LIMIT = 2.0
MIN_USERS = 4
# A user idle this long closes its connections (its next request reconnects).
IDLE_CLOSE_S = 1.0
# How often the dispatcher looks for idle users to close.
SWEEP_S = 0.1
# Queued slots older than this are dropped (counted): their latency is far past any SLO.
MAX_QUEUED_S = 10.0


class PacingMode(enum.StrEnum):
    """How slots are spaced."""

    UNIFORM = "uniform"  # exactly 1/R apart: the steadiest offered load
    POISSON = "poisson"  # exponential gaps with mean 1/R: independent arrivals, like real traffic


@dataclass
class Slot:
    """A start slot given to a user: when it was due, and from when its lateness is the generator's."""

    due: float  # perf_counter seconds: the intended start
    ready: float  # max(due, when a user was free for it): lag is measured from here
    measured: bool = False  # the first request of the task has taken its latency from `due`


@dataclass(frozen=True)
class PacerCounters:
    """Cumulative slot and concurrency counters (differences of two give a window)."""

    due: int = 0  # slots that came due
    taken: int = 0  # slots a user started
    queued: int = 0  # slots that had to wait for a free user (or the concurrency ceiling)
    dropped: int = 0  # slots discarded unsent (a rate change, or queued for MAX_QUEUED_S)
    busy_s: float = 0.0  # ∫ requests in flight dt: Δbusy_s / Δt is the mean concurrency

    def __add__(self, other: PacerCounters) -> PacerCounters:
        return PacerCounters(
            due=self.due + other.due,
            taken=self.taken + other.taken,
            queued=self.queued + other.queued,
            dropped=self.dropped + other.dropped,
            busy_s=self.busy_s + other.busy_s,
        )

    def as_list(self) -> list[float]:
        """msgpack-friendly form (a worker ships it to the master)."""
        return [self.due, self.taken, self.queued, self.dropped, self.busy_s]

    @classmethod
    def from_list(cls, values: list[float]) -> PacerCounters:
        """The inverse of `as_list`."""
        due, taken, queued, dropped, busy_s = values
        return cls(due=int(due), taken=int(taken), queued=int(queued), dropped=int(dropped), busy_s=busy_s)


@dataclass(eq=False)
class _Waiter:
    """A free user on the stack."""

    user: User | None
    owner: RawGreenlet
    event: Event
    since: float
    slot: Slot | None = None
    closed: bool = False


@dataclass
class _Busy:
    """In-flight accounting: users holding a slot, integrated over time."""

    clock: Callable[[], float]
    active: dict[RawGreenlet, Slot] = field(default_factory=dict)
    area: float = 0.0
    last: float = 0.0
    peak: int = 0

    def _advance(self) -> None:
        now = self.clock()
        self.area += len(self.active) * (now - self.last)
        self.last = now

    def add(self, user: RawGreenlet, slot: Slot) -> None:
        self._advance()
        self.active[user] = slot
        self.peak = max(self.peak, len(self.active))

    def remove(self, user: RawGreenlet) -> None:
        if user in self.active:
            self._advance()
            del self.active[user]


class Pacer:
    """Gives start slots to waiting users at `rate` per second; one per process, shared by its users.

    A dispatcher greenlet walks the slots' timeline; a due slot goes to the most
    recently freed user, or waits in a queue for the next user to come back. Nothing
    is reserved ahead, so a rate change never leaves gaps behind; a catch-up after a
    stall fires the late slots at once, as the open model demands, and their lateness
    shows in the scheduling lag.
    """

    def __init__(
        self,
        *,
        mode: PacingMode = PacingMode.UNIFORM,
        seed: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
        idle_close_s: float = IDLE_CLOSE_S,
        close: Callable[[User], None] = close_connections,
    ) -> None:
        self.mode = mode
        self.clock = clock
        self.idle_close_s = idle_close_s
        self._close = close
        self._random = random.Random(seed)
        self._rate: float | None = None
        self.max_concurrency: int | None = None
        self._free: list[_Waiter] = []  # a stack: the most recently freed user is last
        self._open_from = 0  # _free[:_open_from] have closed their connections
        self._queued: deque[float] = deque()  # due times of slots nobody was free to take
        self._busy = _Busy(clock=clock, last=clock())
        self._dispatcher: gevent.Greenlet | None = None
        self._counts = {"due": 0, "taken": 0, "queued": 0, "dropped": 0}

    # -- control ----------------------------------------------------------------------------

    @property
    def rate(self) -> float | None:
        """Task starts per second, or None when pacing is off (users keep their own wait_time)."""
        return self._rate

    @property
    def released(self) -> int:
        """Slots a user started."""
        return self._counts["taken"]

    @property
    def dropped(self) -> int:
        """Slots discarded unsent."""
        return self._counts["dropped"]

    def set_rate(self, rate: float | None, *, max_concurrency: int | None = None) -> None:
        """Change the rate now (None: off, and every waiting user is released; 0: paused).

        `max_concurrency` caps the requests in flight: beyond it a due slot waits as if
        no user were free. Slots still queued from the previous rate are dropped. At rate
        0 no slot is due: users wait (they do not fall back to their own `wait_time`) and
        close their idle connections, which is how a search drains the app.
        """
        self._drop_queued(len(self._queued))
        self.max_concurrency = max_concurrency
        rate = rate if rate is not None and rate >= 0 else None
        if rate is None:
            self.close()
            return
        if rate != self._rate and self._dispatcher is not None:
            self._dispatcher.kill(block=False)  # a new timeline from now (no wait for the old next slot)
            self._dispatcher = None
        self._rate = rate
        if self._dispatcher is None or self._dispatcher.dead:
            self._dispatcher = gevent.spawn(self._dispatch)

    def close(self) -> None:
        """Stop dispatching and release everyone waiting."""
        self._rate = None
        self._drop_queued(len(self._queued))
        dispatcher, self._dispatcher = self._dispatcher, None
        if dispatcher is not None and dispatcher is not gevent.getcurrent():
            dispatcher.kill(block=False)
        self._busy.active.clear()  # unpaced from now on: nothing is accounted any more
        free, self._free, self._open_from = self._free, [], 0
        for waiter in free:
            waiter.event.set()

    # -- users ------------------------------------------------------------------------------

    def wait(self, user: User | None = None) -> None:
        """Block the calling user until it gets a slot (at once when pacing is off)."""
        current = gevent.getcurrent()
        self._busy.remove(current)  # back from its task: no longer in flight
        if self._rate is None:
            return
        now = self.clock()
        if self._queued and self._may_start():
            self._start(current, Slot(due=self._queued.popleft(), ready=now))
            return
        waiter = _Waiter(user=user, owner=current, event=Event(), since=now)
        self._free.append(waiter)
        try:
            waiter.event.wait()
        finally:
            if waiter.slot is None:  # stopped while waiting, or pacing ended
                self._unlist(waiter)

    def slot_of(self, user: RawGreenlet) -> Slot | None:
        """The slot a user is working on (None: not paced, or between slots)."""
        return self._busy.active.get(user)

    def forget(self, user: RawGreenlet) -> None:
        """A user stopped mid-task: it is no longer in flight."""
        self._busy.remove(user)

    # -- figures ----------------------------------------------------------------------------

    def counters(self) -> PacerCounters:
        """Cumulative counters now."""
        self._busy._advance()
        c = self._counts
        return PacerCounters(
            due=c["due"], taken=c["taken"], queued=c["queued"], dropped=c["dropped"], busy_s=self._busy.area
        )

    @property
    def in_flight(self) -> int:
        """Requests (paced tasks) in flight now."""
        return len(self._busy.active)

    def take_peak(self) -> int:
        """The most requests in flight at once since the last call."""
        peak, self._busy.peak = self._busy.peak, len(self._busy.active)
        return peak

    # -- the dispatcher ---------------------------------------------------------------------

    def _may_start(self) -> bool:
        return self.max_concurrency is None or len(self._busy.active) < self.max_concurrency

    def _start(self, user: RawGreenlet, slot: Slot) -> None:
        self._counts["taken"] += 1
        self._busy.add(user, slot)

    def _due(self, due: float) -> None:
        self._counts["due"] += 1
        if self._free and self._may_start():
            waiter = self._free.pop()
            self._open_from = min(self._open_from, len(self._free))
            waiter.slot = Slot(due=due, ready=due)
            self._start(waiter.owner, waiter.slot)  # in flight from now: the ceiling counts it at once
            waiter.event.set()
        else:
            self._counts["queued"] += 1
            self._queued.append(due)

    def _drop_queued(self, count: int) -> None:
        for _ in range(count):
            self._queued.popleft()
        self._counts["dropped"] += count

    def _unlist(self, waiter: _Waiter) -> None:
        try:
            self._free.remove(waiter)
        except ValueError:
            return
        self._open_from = 0

    def _gap(self, rate: float) -> float:
        if self.mode is PacingMode.POISSON:
            return self._random.expovariate(rate)
        return 1.0 / rate

    def _dispatch(self) -> None:
        next_slot = next_sweep = self.clock()
        while self._rate is not None:
            now = self.clock()
            if not self._rate:  # paused: no slot is due, only idle connections are closed
                next_slot = now + SWEEP_S
            while next_slot <= now and self._rate:
                self._due(next_slot)
                next_slot += self._gap(self._rate)
            if now >= next_sweep:
                self._sweep(now)
                next_sweep = now + SWEEP_S
            gevent.sleep(max(0.0, min(next_slot, next_sweep) - self.clock()))

    def _sweep(self, now: float) -> None:
        """Close the connections of users idle for `idle_close_s`; drop slots queued too long."""
        stale = 0
        while stale < len(self._queued) and self._queued[stale] < now - MAX_QUEUED_S:
            stale += 1
        self._drop_queued(stale)
        while self._open_from < len(self._free):
            waiter = self._free[self._open_from]
            if now - waiter.since < self.idle_close_s:
                return  # the stack is ordered by `since`: everyone above is fresher
            if not waiter.closed and waiter.user is not None:
                self._close(waiter.user)
            waiter.closed = True
            self._open_from += 1


def paced_user_classes(classes: list[type[User]], pacer: Pacer) -> list[type[User]]:
    """Subclasses (same names) whose users take a start slot from `pacer` before every task."""
    return [_paced(cls, pacer) for cls in classes]


def _paced(cls: type[User], pacer: Pacer) -> type[User]:
    original_wait_time = cls.wait_time

    def wait_time(self: User) -> float:
        if pacer.rate is None:
            return float(original_wait_time(self))
        pacer.wait(self)  # the dispatcher releases this user at its slot
        return 0.0

    def on_start(self: User) -> Any:
        result = cls.on_start(self)
        pacer.wait(self)  # the first task is paced too (Locust only waits between tasks)
        return result

    def on_stop(self: User) -> Any:
        pacer.forget(gevent.getcurrent())
        return cls.on_stop(self)

    namespace = {
        "wait_time": wait_time,
        "on_start": on_start,
        "on_stop": on_stop,
        "__module__": cls.__module__,
    }
    return type(cls.__name__, (cls,), namespace)


def users_for_rate(rate: float, *, cap: int, latency_budget_s: float = LATENCY_BUDGET_S) -> int:
    """Users needed to offer `rate` req/s while each request may take up to `latency_budget_s`."""
    return max(MIN_USERS, min(cap, math.ceil(rate * latency_budget_s) + MIN_USERS))


def latency_budget_for(limits_ms: list[float]) -> float:
    """The latency budget (s) for a scenario whose latency limits are `limits_ms`.

    Twice the loosest limit: by Little's law a step whose requests in flight reach
    R × 2 × limit has a mean latency of twice the limit, so its verdict is "broken"
    whether or not more users would have been sent; a bigger pool would only flood
    the app with connections no real client population at that rate holds.
    """
    return BUDGET_PER_LIMIT * max(limits_ms) / 1000.0 if limits_ms else LATENCY_BUDGET_S
