"""The step driver on a simulated clock: windows skip the ramp, and abort conditions trip on time.

The session is real (a Locust Environment and LocalRunner); its users send nothing, and
the clock feeds Locust's `request` event with traffic of its own at each simulated tick,
so the driver's timing logic runs without wall time.
"""

from __future__ import annotations

import io
from collections.abc import Generator
from pathlib import Path

import gevent
import pytest
from locust import User, constant, task

from harness.config import AbortCondition
from harness.load.progress import Progress
from harness.load.runner import LoadSession, ScenarioAborted, SessionOptions, run_steps
from harness.measurements import LevelMode, StepKind, StepPlan, StepWindow


class Idle(User):
    """Runs, sends nothing: the clock below supplies the traffic."""

    wait_time = constant(0.01)

    @task
    def nothing(self) -> None:
        pass


class TrafficClock:
    """Simulated time: `rate` requests per simulated second; they fail in [fail_from_s, fail_until_s)."""

    def __init__(
        self, *, rate: int, fail_from_s: float | None = None, fail_until_s: float = float("inf")
    ) -> None:
        self.t = 1_000_000.0
        self.start = self.t
        self.rate = rate
        self.fail_from_s = fail_from_s
        self.fail_until_s = fail_until_s
        self.session: LoadSession | None = None

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        steps = round(seconds * self.rate)
        for _ in range(steps):
            self.t += 1.0 / self.rate
            self._request()
        self.t += seconds - steps / self.rate
        gevent.sleep(0)

    def _request(self) -> None:
        assert self.session is not None
        elapsed = self.t - self.start
        failing = self.fail_from_s is not None and self.fail_from_s <= elapsed < self.fail_until_s
        self.session.environment.events.request.fire(
            request_type="GET",
            name="/x",
            response_time=12.0,
            response_length=0,
            response=None,
            exception=RuntimeError("boom") if failing else None,
            context={},
        )


def session(
    clock: TrafficClock, abort: AbortCondition | None = None, stop_after_s: float | None = None
) -> LoadSession:
    options = SessionOptions(
        host="http://127.0.0.1:9", locustfile=Path(__file__), abort=abort, spawn_rate=100
    )
    stop = None if stop_after_s is None else (lambda: clock.t - clock.start >= stop_after_s)
    made = LoadSession([Idle], options, clock=clock, stop_requested=stop)
    clock.session = made
    return made


def two_steps() -> Generator[StepPlan, StepWindow, tuple[StepWindow, StepWindow]]:
    first = yield StepPlan(index=0, kind=StepKind.WARMUP, level=1, ramp_s=2, hold_s=3)
    second = yield StepPlan(index=1, kind=StepKind.HOLD, level=1, hold_s=4)
    return first, second


def test_each_window_covers_its_hold_only() -> None:
    clock = TrafficClock(rate=10)
    with session(clock) as s, gevent.Timeout(30):
        first, second = run_steps(s, two_steps())
    assert (first.duration_s, first.total.requests, first.total.rps) == (3.0, 30, 10.0)
    assert (second.duration_s, second.total.requests) == (4.0, 40)
    assert second.start_ts == first.end_ts and second.total.latency.p95_ms == 12.0
    assert s.timeline[0].start_ts == clock.start  # the ramp began at the start, measured from 2 s on


def test_an_abort_condition_ends_a_long_hold_after_its_duration() -> None:
    clock = TrafficClock(rate=10, fail_from_s=3)
    abort = AbortCondition(error_ratio=0.5, for_s=2)
    with session(clock, abort) as s, gevent.Timeout(30):
        plan = StepPlan(index=0, kind=StepKind.HOLD, level=1, hold_s=600)
        window = s.run_step(plan)
    assert window.aborted and s.abort_reason is not None
    assert "over the last 2 s exceeded the abort limit 50.0%" in s.abort_reason
    # Failing from 3 s on; the trailing 2 s window is mostly failures by 5 s at the latest.
    assert 4.0 <= window.duration_s <= 6.0
    assert window.total.failures >= 10 and window.errors[0].kind == "RuntimeError"


def long_then_short() -> Generator[StepPlan, StepWindow, tuple[StepWindow, StepWindow]]:
    first = yield StepPlan(index=0, kind=StepKind.PROBE, level=1, hold_s=600)
    second = yield StepPlan(index=1, kind=StepKind.RECOVERY, level=1, hold_s=4)
    return first, second


def test_a_plan_that_handles_aborts_goes_on_after_one() -> None:
    clock = TrafficClock(rate=10, fail_from_s=3, fail_until_s=5.5)
    abort = AbortCondition(error_ratio=0.5, for_s=2)
    with session(clock, abort) as s, gevent.Timeout(30):
        first, second = run_steps(s, long_then_short(), plan_handles_aborts=True)
    assert first.aborted and first.duration_s < 10
    # Tripped at 5 s. Cleared: the next step runs its whole hold, judged on traffic after the
    # abort only (a trailing span still holding 4-5.5 s would trip it again at 6 s).
    assert not second.aborted and second.duration_s == 4.0
    assert s.abort_reason is None


def test_an_abort_ends_a_plan_that_does_not_handle_aborts() -> None:
    clock = TrafficClock(rate=10, fail_from_s=3, fail_until_s=5.5)
    abort = AbortCondition(error_ratio=0.5, for_s=2)
    with session(clock, abort) as s, gevent.Timeout(30), pytest.raises(ScenarioAborted, match="abort limit"):
        run_steps(s, long_then_short())


def test_an_interrupt_ends_even_a_plan_that_handles_aborts() -> None:
    clock = TrafficClock(rate=10)
    with session(clock, stop_after_s=3) as s, gevent.Timeout(30), pytest.raises(ScenarioAborted):
        run_steps(s, long_then_short(), plan_handles_aborts=True)
    assert s.interrupted and len(s.measured) == 1


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, so every redraw of the progress line is written."""

    def isatty(self) -> bool:
        return True


def search_steps() -> Generator[StepPlan, StepWindow, None]:
    yield StepPlan(index=0, kind=StepKind.PROBE, label="probe 1", level=2, ramp_s=1, hold_s=4)
    mode = LevelMode.ARRIVAL_RATE
    yield StepPlan(index=1, kind=StepKind.BISECT, label="bisect 1", level=40, mode=mode, hold_s=3)


def test_the_progress_line_of_a_search_shows_the_step_the_offer_and_the_step_time_left() -> None:
    clock = TrafficClock(rate=10)
    terminal = _Terminal()
    made = session(clock)
    made.progress = Progress("search-stress", stream=terminal)
    with made as s, gevent.Timeout(30):
        run_steps(s, search_steps())
    lines = [line for line in terminal.getvalue().replace("\x1b[K", "").split("\r") if line.strip()]
    probe = [line for line in lines if "| probe 1 |" in line]
    bisect = [line for line in lines if "| bisect 1 |" in line]
    assert probe and bisect
    # The probe (users mode) counts down its own ramp + hold (5 s), as step 1 of the search.
    assert probe[0].endswith("step 1, 0:04 left") and probe[-1].endswith("step 1, 0:00 left")
    assert "offered" not in probe[0] and "users" in probe[0]
    # Arrival-rate mode shows the offered level beside the achieved rate, errors and p95.
    assert "| offered 40 req/s |" in bisect[0] and bisect[0].strip().endswith("step 2, 0:02 left")
    assert all(" req/s | err " in line and "| p95 " in line for line in probe[1:] + bisect)
    assert " req/s | err 0.0% | p95 12 ms | 2 users |" in probe[-1]
