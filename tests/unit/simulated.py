"""Simulated systems with a known capacity, for testing the pure search and SLO logic.

`SimulatedApp` answers a `StepPlan` with the `StepWindow` a real run would
measure, from a small queueing model rather than sockets:

- **arrival-rate mode**: `slots` servers with a deterministic service time
  (M/D/c-like). Below capacity the waiting time follows Erlang C (halved for
  deterministic service); above it a backlog builds up as a fluid queue,
  *carried over into the next step* (so recovery takes time), and arrivals
  beyond `backlog_limit` fail fast, the way Heroku's router answers H11.
- **users mode**: a closed model with think time: throughput
  min(N / (Z + S), capacity), response time max(S, N / capacity − Z).

**Metastable** (`slowdown` > 1): once the backlog passes `trigger_backlog`,
the service time is multiplied by `slowdown` and stays so while load
continues; only `recover_idle_s` with no load and an empty queue heals it
(what `tests/apps/queue_server.py --metastable` does for real).

Noise (Gaussian on throughput, log-normal on latency), injected bad or lucky
windows, a cold start, a load generator that saturates above a rate and an
abort threshold (or aborts forced at given steps) make the noisy,
non-monotonic and unhappy cases.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from dataclasses import dataclass, field

from harness.capacity.search import SearchParams, SearchResult
from harness.capacity.slo import SloLimits
from harness.measurements import (
    TOTAL,
    EndpointWindow,
    LevelMode,
    Percentiles,
    StepPlan,
    StepWindow,
)

__all__ = ["SimulatedApp", "run_search", "search_params"]

_DT = 0.05  # fluid-queue integration step, s
_QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99, "max": 0.999}


@dataclass
class SimulatedApp:
    """One simulated app: true capacity `slots / service_s` req/s."""

    slots: int = 4
    service_ms: float = 40.0
    think_s: float = 1.0  # users mode: wait between a user's requests
    backlog_limit: float = 50.0  # queued requests beyond which new arrivals fail fast
    rps_noise: float = 0.0  # relative standard deviation of measured throughput
    latency_noise: float = 0.0  # sigma of the log-normal factor on latencies
    seed: int = 0
    # step indexes measured 10x slower and with 5% errors (a noisy neighbour)
    bad_windows: frozenset[int] = frozenset()
    lucky_windows: frozenset[int] = frozenset()  # step indexes that look healthy whatever the load
    cold_windows: int = 0  # the first N windows are `cold_factor` times slower (cold caches)
    cold_factor: float = 5.0
    generator_limit_rps: float | None = None  # the load generator saturates above this offered rate
    lagging_windows: frozenset[int] = frozenset()  # step indexes where the generator starts requests late
    abort_error_ratio: float | None = None  # the abort condition trips at this error ratio
    abort_windows: frozenset[int] = frozenset()  # step indexes where the abort trips whatever the load
    thrash_factor: float = 1.0  # service rate while rejecting (< 1: overload wastes capacity)
    slowdown: float = 1.0  # metastable: service time factor once the backlog passed `trigger_backlog`
    trigger_backlog: float = 10.0
    recover_idle_s: float = 2.0  # metastable: idle time (no load, no queue) that heals it
    degraded: bool = False
    degradations: int = 0
    idle_s: float = 0.0
    backlog: float = 0.0  # requests waiting right now (state between steps)
    clock: float = 1_000_000.0
    windows: int = 0
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    @property
    def capacity_rps(self) -> float:
        """The truth the search is measured against."""
        return self.slots / (self.service_ms / 1000.0)

    @property
    def service_s(self) -> float:
        """The service time now (longer while a metastable app is degraded)."""
        return self.service_ms / 1000.0 * (self.slowdown if self.degraded else 1.0)

    @property
    def live_capacity_rps(self) -> float:
        """What it serves now: the capacity, or less while degraded."""
        return self.slots / self.service_s

    def users_capacity(self) -> float:
        """Users mode: the number of users at which the app saturates, N* = C (Z + S)."""
        return self.capacity_rps * (self.think_s + self.service_s)

    def measure(self, plan: StepPlan) -> StepWindow:
        """Run `plan` through the model; returns the window a load layer would measure."""
        self.clock += plan.ramp_s
        if plan.mode is LevelMode.ARRIVAL_RATE:
            window = self._arrival_window(plan)
        else:
            window = self._users_window(plan)
        self.clock += plan.hold_s
        self.windows += 1
        return window

    # ----- arrival-rate mode ---------------------------------------------------------------

    def _arrival_window(self, plan: StepPlan) -> StepWindow:
        offered = plan.level
        lucky = plan.index in self.lucky_windows
        self._advance(offered, plan.ramp_s)
        start_backlog = self.backlog
        served, rejected, waits = self._advance(offered, plan.hold_s)
        if lucky:
            served, rejected, waits = offered * plan.hold_s, 0.0, [0.0]
            self.backlog = start_backlog
        steady = self._steady_wait_quantiles(min(offered, self.live_capacity_rps), plan)
        latency = {
            name: self.service_s + steady[name] + _quantile(waits, q) for name, q in _QUANTILES.items()
        }
        return self._window(plan, offered, served, rejected, latency)

    def _advance(self, offered: float, seconds: float) -> tuple[float, float, list[float]]:
        """Fluid queue: returns (served, rejected, queueing waits seen by arrivals) over `seconds`."""
        served = rejected = 0.0
        waits: list[float] = []
        steps = max(1, round(seconds / _DT)) if seconds > 0 else 0
        for _ in range(steps):
            arrivals = offered * _DT
            capacity = self.live_capacity_rps
            room = self.backlog_limit - self.backlog
            accepted = min(arrivals, max(0.0, room + capacity * _DT))
            rejected += arrivals - accepted
            rate = capacity * (self.thrash_factor if arrivals > accepted else 1.0)
            done = min(self.backlog + accepted, rate * _DT)
            self.backlog = max(0.0, self.backlog + accepted - done)
            served += done
            waits.append(self.backlog / capacity)
            self._metastable_tick(offered)
        return served, rejected, waits

    def _metastable_tick(self, offered: float) -> None:
        if self.slowdown <= 1.0:
            return
        if not self.degraded and self.backlog > self.trigger_backlog:
            self.degraded = True
            self.degradations += 1
        self.idle_s = self.idle_s + _DT if offered <= 0 and self.backlog <= 1e-9 else 0.0
        if self.degraded and self.idle_s >= self.recover_idle_s - 1e-9:
            self.degraded = False

    def _steady_wait_quantiles(self, rate: float, plan: StepPlan) -> dict[str, float]:
        """Waiting-time quantiles below capacity: Erlang C, halved for deterministic service."""
        mu = 1.0 / self.service_s
        if rate <= 0:
            return dict.fromkeys(_QUANTILES, 0.0)
        waiting = _erlang_c(self.slots, rate / mu)
        drain = self.slots * mu - rate
        # Within a short window the queue cannot reach its stationary size near rho = 1.
        horizon = math.sqrt(2 * rate * (plan.ramp_s + plan.hold_s)) / (self.slots * mu)
        out = {}
        for name, q in _QUANTILES.items():
            wait = 0.0 if q <= 1 - waiting else -math.log((1 - q) / waiting) / max(drain, 1e-9) / 2
            out[name] = min(wait, horizon * (q + 0.5))
        return out

    # ----- users mode ----------------------------------------------------------------------

    def _users_window(self, plan: StepPlan) -> StepWindow:
        users = plan.level
        cycle = self.think_s + self.service_s
        rate = min(users / cycle, self.capacity_rps)
        response = max(self.service_s, users / self.capacity_rps - self.think_s)
        steady = self._steady_wait_quantiles(rate * 0.999, plan)
        latency = {name: response + steady[name] * 0.5 for name in _QUANTILES}
        latency["max"] = latency["max"] * 1.5
        return self._window(plan, None, rate * plan.hold_s, 0.0, latency)

    # ----- measurement ---------------------------------------------------------------------

    def _window(
        self,
        plan: StepPlan,
        offered: float | None,
        served: float,
        rejected: float,
        latency_s: dict[str, float],
    ) -> StepWindow:
        hold = plan.hold_s
        saturated_generator = (
            self.generator_limit_rps is not None
            and offered is not None
            and offered > self.generator_limit_rps
        )
        noise = max(0.0, self._rng.gauss(1.0, self.rps_noise)) if self.rps_noise else 1.0
        bad = plan.index in self.bad_windows
        requests = round((served + rejected) * noise)
        failures = min(requests, round(rejected * noise + (0.05 * requests if bad else 0.0)))
        slow = 10.0 if bad else 1.0
        if self.windows < self.cold_windows:
            slow *= self.cold_factor
        factor = math.exp(self._rng.gauss(0.0, self.latency_noise)) if self.latency_noise else 1.0
        ms = {name: round(value * 1000.0 * slow * factor, 1) for name, value in latency_s.items()}
        percentiles = Percentiles(
            p50_ms=ms["p50"],
            p90_ms=ms["p90"],
            p95_ms=ms["p95"],
            p99_ms=ms["p99"],
            max_ms=ms["max"],
            avg_ms=ms["p50"],
        )
        ratio = failures / requests if requests else 0.0
        total = EndpointWindow(
            method="",
            name=TOTAL,
            requests=requests,
            failures=failures,
            rps=requests / hold,
            failures_per_s=failures / hold,
            error_ratio=ratio,
            latency=percentiles,
        )
        search = total.model_copy(update={"method": "GET", "name": "/search"})
        aborted = plan.index in self.abort_windows or (
            self.abort_error_ratio is not None and ratio >= self.abort_error_ratio
        )
        return StepWindow(
            plan=plan,
            start_ts=self.clock,
            end_ts=self.clock + hold,
            users=round(plan.level) if offered is None else 0,
            offered_rps=offered,
            total=total,
            endpoints=[search, total],
            generator_cpu_percent=99.0 if saturated_generator else 40.0,
            generator_saturated=saturated_generator,
            aborted=aborted,
            schedule_lag_p99_ms=40.0 if plan.index in self.lagging_windows else 1.0,
            generator_lagging=plan.index in self.lagging_windows,
        )


def _erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue with offered load `load` (erlangs)."""
    if load >= servers:
        return 1.0
    term = 1.0
    total = 1.0
    for k in range(1, servers):
        term *= load / k
        total += term
    last = term * load / servers / (1 - load / servers)
    return last / (total + last)


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_search(
    app: SimulatedApp, search: Generator[StepPlan, StepWindow, SearchResult], limit: int = 500
) -> SearchResult:
    """Drive a search generator against `app` until it returns; the return value is the result."""
    plan = next(search)
    for _ in range(limit):
        try:
            plan = search.send(app.measure(plan))
        except StopIteration as stop:
            return stop.value
    raise AssertionError(f"the search did not end within {limit} steps")


def search_params(
    default_limits: SloLimits, mode: LevelMode = LevelMode.ARRIVAL_RATE, **overrides: object
) -> SearchParams:
    """Search parameters with short steps (the simulation needs no long holds), overridable."""
    values: dict[str, object] = {
        "mode": mode,
        "start_level": 25.0,
        "max_level": 10_000.0,
        "limits": default_limits,
        "ramp_s": 0.5,
        "step_hold_s": 3.0,
        "confirm_hold_s": 6.0,
        "recovery_window_s": 1.0,
    }
    values.update(overrides)
    return SearchParams.model_validate(values)
