"""What a session watches every second: counters, CPU, concurrency, connections, abort conditions, progress.

`SessionMonitor.tick()` is called by the step driver once per `TICK_S` while
it waits. It keeps a trailing series of Locust's cumulative counters (for the
abort condition's "error ratio over the last `for_s` seconds" and for the live
progress line), the load generator's CPU, and in arrival-rate mode the peak
requests in flight and the open connections to the target, so a step's window
can take the maxima over its hold.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import psutil
from locust.stats import RequestStats, calculate_response_time_percentile, diff_response_time_dicts

from harness.config import AbortCondition
from harness.load.progress import Progress, ProgressState

__all__ = ["PROGRESS_WINDOW_S", "TICK_S", "Gauges", "SessionMonitor"]

# How often the driver samples users, CPU and counters, checks abort conditions and redraws progress.
TICK_S = 1.0
# Progress figures are taken over this trailing window.
PROGRESS_WINDOW_S = 5.0


@dataclass(frozen=True, kw_only=True)
class _Sample:
    ts: float
    requests: int
    failures: int
    response_times: dict[int, int]


@dataclass(frozen=True, kw_only=True)
class Gauges:
    """Where the monitor reads what Locust's stats do not hold (each a callable: read at every tick)."""

    users: Callable[[], int]
    cpu_percent: Callable[[], float]
    # Arrival-rate mode only (None: not sampled): peak requests in flight since the last call, and
    # the open connections to the target now.
    concurrency_peak: Callable[[], int] | None = None
    connections: Callable[[], int] | None = None


class SessionMonitor:
    """Trailing samples of one session, and the abort and progress decisions made from them."""

    def __init__(
        self,
        stats: RequestStats,
        gauges: Gauges,
        *,
        clock: Callable[[], float],
        abort: AbortCondition | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.stats = stats
        self.gauges = gauges
        self.clock = clock
        self.abort = abort
        self.progress = progress
        self.users_by_second: dict[int, int] = {}
        self.cpu: list[tuple[float, float]] = []
        self.concurrency: list[tuple[float, int]] = []
        self.connections: list[tuple[float, int]] = []
        self._samples: deque[_Sample] = deque(maxlen=600)
        self._process = psutil.Process()

    def tick(self) -> None:
        """Take one sample of everything."""
        now = self.clock()
        total = self.stats.total
        self._samples.append(
            _Sample(
                ts=now,
                requests=total.num_requests,
                failures=total.num_failures,
                response_times=dict(total.response_times),
            )
        )
        self.users_by_second[int(now)] = self.gauges.users()
        self.cpu.append((now, self.gauges.cpu_percent()))
        if self.gauges.concurrency_peak is not None:
            self.concurrency.append((now, self.gauges.concurrency_peak()))
        if self.gauges.connections is not None:
            self.connections.append((now, self.gauges.connections()))

    def restart(self) -> None:
        """Forget the trailing counters (after an acknowledged abort) and sample afresh."""
        self._samples.clear()
        self.tick()

    @staticmethod
    def peak_between(series: list[tuple[float, int]], start_ts: float, end_ts: float) -> int | None:
        """The highest sample taken in [start_ts, end_ts] (None: none taken)."""
        values = [v for ts, v in series if start_ts <= ts <= end_ts]
        return max(values) if values else None

    def _trailing(self, seconds: float) -> tuple[_Sample, _Sample] | None:
        """The oldest sample at least `seconds` old and the newest (None until the run is that long)."""
        if len(self._samples) < 2:
            return None
        newest = self._samples[-1]
        older = [s for s in self._samples if newest.ts - s.ts >= seconds - 0.5 * TICK_S]
        return (older[-1], newest) if older else None

    def abort_reason(self) -> str | None:
        """Why the abort condition trips now (None: it does not)."""
        span = self._trailing(self.abort.for_s) if self.abort else None
        if self.abort is None or span is None:
            return None
        old, new = span
        requests = new.requests - old.requests
        ratio = (new.failures - old.failures) / requests if requests else 0.0
        if requests and ratio > self.abort.error_ratio:
            return (
                f"error ratio {ratio:.1%} over the last {self.abort.for_s:g} s exceeded the abort limit "
                f"{self.abort.error_ratio:.1%}"
            )
        return None

    def draw(
        self, phase: str, time_left_s: float, *, offered_rps: float | None = None, step: int | None = None
    ) -> None:
        """Redraw the progress line from the trailing PROGRESS_WINDOW_S."""
        if self.progress is None:
            return
        span = self._trailing(PROGRESS_WINDOW_S) or (
            (self._samples[0], self._samples[-1]) if self._samples else None
        )
        rps = p95 = ratio = None
        if span is not None and span[1].ts > span[0].ts:
            old, new = span
            requests = new.requests - old.requests
            rps = requests / (new.ts - old.ts)
            ratio = (new.failures - old.failures) / requests if requests else 0.0
            diff = diff_response_time_dicts(new.response_times, old.response_times)
            timed = sum(diff.values())
            p95 = float(calculate_response_time_percentile(diff, timed, 0.95)) if timed else None
        state = ProgressState(
            phase=phase,
            users=self.gauges.users(),
            rps=rps,
            p95_ms=p95,
            error_ratio=ratio,
            time_left_s=max(0.0, time_left_s),
            offered_rps=offered_rps,
            step=step,
        )
        self.progress.update(state)
