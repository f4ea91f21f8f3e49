"""Run Locust in-process and measure steps: one session per scenario, one step driver for every plan.

`LoadSession` owns one Locust `Environment` (a fresh `Events()`, parsed options
from Locust's own parser with `--headless` and no config files, see
LOCUST-NOTES) and its runner: a `LocalRunner`, or a `MasterRunner` with local
`harness worker` processes and/or remote workers. `run_steps(session, plan)`
drives any plan generator (the breaking-point search, or the load/spike/soak
plans in `scenarios.py`): it sets each `StepPlan`'s level, waits its ramp,
measures its hold as a windowed `StepWindow`, sends the window back into the
generator and returns the generator's result. Abort conditions are checked
every second while it waits; a tripped one ends the plan, unless the plan
handles aborts itself (`plan_handles_aborts`, the breaking-point search) and
asks for another step: then the session acknowledges it (`clear_abort`) and
goes on.

Time comes from an injectable `Clock` (`options.py`) so that the waiting logic
has one seam; the per-second samples, abort conditions and progress line live
in `monitor.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import gevent
import psutil
from locust import User
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events
from locust.exception import RPCError
from locust.runners import CPU_WARNING_THRESHOLD, Runner
from locust.user.task import LOCUST_STATE_STOPPING

from harness.errors import LoadError
from harness.load.connections import ConnectionCounter
from harness.load.distributed import LocalWorkers, MasterControl
from harness.load.locustfile import prepare_user_classes
from harness.load.monitor import TICK_S, Gauges, SessionMonitor
from harness.load.options import Clock, SessionOptions, WallClock, ensure_reachable
from harness.load.pacing import Pacer, paced_user_classes, users_for_rate
from harness.load.progress import Progress
from harness.load.request_ids import TAPE
from harness.load.stats import RequestSink, StatsSnapshot, TimelineEntry, take_snapshot, window_between
from harness.measurements import LevelMode, StepPlan, StepWindow, TimeseriesPoint

__all__ = [
    "INTERRUPTED_REASON",
    "Clock",
    "LoadSession",
    "Measured",
    "ScenarioAborted",
    "SessionOptions",
    "WallClock",
    "ensure_reachable",
    "run_steps",
]

logger = logging.getLogger(__name__)

R = TypeVar("R")
# At the end of a local run, users get this long to finish their request in flight before the kill.
STOP_GRACE_S = 3.0
# Locust warns above this spawn rate per process.
MAX_SPAWN_RATE_PER_PROCESS = 100.0


INTERRUPTED_REASON = "interrupted (Ctrl-C or SIGTERM): the load was stopped early"


class ScenarioAborted(Exception):
    """An abort condition tripped: the plan was closed early. Internal to `load/`; never reaches a user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class Measured:
    """A measured step and the snapshots it came from (to aggregate consecutive windows exactly)."""

    window: StepWindow
    before: StatsSnapshot
    after: StatsSnapshot


class LoadSession:
    """One scenario's Locust environment and runner; use as a context manager (always quits and reaps)."""

    def __init__(
        self,
        user_classes: list[type[User]],
        options: SessionOptions,
        *,
        clock: Clock | None = None,
        progress: Progress | None = None,
        stop_requested: Callable[[], bool] | None = None,
    ) -> None:
        self.options = options
        # Polled every tick: the pipeline's first Ctrl-C/SIGTERM ends the scenario like an abort.
        self.stop_requested = stop_requested
        self.interrupted = False
        self.clock = clock or WallClock()
        self.progress = progress
        self.pacer = Pacer(mode=options.pacing)
        classes = prepare_user_classes(user_classes, options.request_timeout_s, options.ca_file)
        self.user_classes = paced_user_classes(classes, self.pacer)
        self.sink = RequestSink(clock=self.clock.now, pacer=self.pacer)
        self.measured: list[Measured] = []
        self.timeline: list[TimelineEntry] = []
        self.cpu_warnings: list[str] = []
        self.abort_reason: str | None = None
        self.started_ts = 0.0
        self._monitor: SessionMonitor | None = None
        self._connections = ConnectionCounter(options.host)
        self._process = psutil.Process()
        self._env: Environment | None = None
        self._runner: Runner | None = None
        self._control: MasterControl | None = None
        self._workers: LocalWorkers | None = None
        self._current: StepPlan | None = None
        self._step_end = 0.0  # when the current step's hold ends (its ramp included)

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> LoadSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def environment(self) -> Environment:
        """The Locust environment (after `start`)."""
        if self._env is None:
            raise RuntimeError("LoadSession.start() was not called")
        return self._env

    @property
    def runner(self) -> Runner:
        """The Locust runner (after `start`)."""
        if self._runner is None:
            raise RuntimeError("LoadSession.start() was not called")
        return self._runner

    def start(self) -> None:
        """Create the environment and runner; in distributed mode start local workers and wait for all."""
        options = get_parser(default_config_files=[]).parse_args(["--headless", "--host", self.options.host])
        env = Environment(
            user_classes=self.user_classes,
            events=Events(),
            host=self.options.host,
            parsed_options=options,
            stop_timeout=0.0,
        )
        self._env = env
        env.events.cpu_warning.add_listener(self._on_cpu_warning)
        self._process.cpu_percent(None)
        if self.options.distributed:
            self._start_master(env)
        else:
            self._runner = env.create_local_runner()
            self.sink.attach(env.events)
            TAPE.attach(env.events)
        env.events.init.fire(environment=env, runner=self._runner, web_ui=None)
        self._monitor = SessionMonitor(
            env.stats,
            Gauges(users=lambda: self.runner.user_count, cpu_percent=self._cpu_now),
            clock=self.clock.now,
            abort=self.options.abort,
            progress=self.progress,
        )
        self.started_ts = self.clock.now()
        self.monitor.tick()

    @property
    def monitor(self) -> SessionMonitor:
        """The per-second samples (after `start`)."""
        if self._monitor is None:
            raise RuntimeError("LoadSession.start() was not called")
        return self._monitor

    @property
    def users_by_second(self) -> dict[int, int]:
        """Running users by epoch second (for the time series)."""
        return self.monitor.users_by_second

    def _start_master(self, env: Environment) -> None:
        host, port = self.options.master_bind_host, self.options.master_bind_port
        try:
            runner = env.create_master_runner(host, port)
        except RPCError as exc:
            raise LoadError(
                f"cannot listen for Locust workers on {host}:{port} ({exc}). Another master (or test) "
                "may hold the port: set load_generator.master_bind_port to a free one."
            ) from None
        self._runner = runner
        self.sink.attach(env.events, master=True)
        TAPE.attach(env.events, master=True)
        self._control = MasterControl(runner)
        expected = self.options.workers + self.options.expect_workers
        if self.options.workers:
            self._workers = LocalWorkers(
                count=self.options.workers,
                locustfile=self.options.locustfile,
                master_port=runner.server.port,
                pacing=self.options.pacing,
                request_timeout_s=self.options.request_timeout_s,
                ca_file=self.options.ca_file,
            )
            self._workers.start()
        self._control.wait_for_workers(expected, timeout_s=self.options.worker_join_timeout_s)

    def close(self) -> None:
        """Stop users, quit the runner (workers too), reap local workers, remove listeners."""
        if self.progress is not None:
            self.progress.close()
        runner, env = self._runner, self._env
        try:
            if runner is not None and env is not None and self._control is None:
                self._stop_gracefully(runner, env)
            self.pacer.close()
            if runner is not None:
                runner.quit()
        finally:
            if self._workers is not None:
                self._workers.stop()
            self.sink.detach()
            TAPE.detach()
            if env is not None and self._on_cpu_warning in env.events.cpu_warning._handlers:
                env.events.cpu_warning.remove_listener(self._on_cpu_warning)
            if self._control is not None:
                self._control.close()

    def _stop_gracefully(self, runner: Runner, env: Environment) -> None:
        """Let every user finish its request in flight, then stop, before anything is killed.

        Locust kills a waiting user at once, and one whose sleep has just ended starts a
        new request before the kill lands: its socket is then left to the garbage
        collector. Marking every user as stopping (what Locust's own graceful ramp-down
        does) makes each one leave at its next wait instead; released pacer waiters leave
        at once. Users still busy after STOP_GRACE_S are killed.
        """
        for greenlet in list(runner.user_greenlets):
            user = greenlet.args[0] if greenlet.args else None
            if isinstance(user, User):
                user._state = LOCUST_STATE_STOPPING
        self.pacer.close()
        grace = min(STOP_GRACE_S, self.options.request_timeout_s)
        # Wait for the users to leave (and the group to forget them: Locust's stop would
        # otherwise log every finished greenlet it still finds there), then kill the rest.
        runner.user_greenlets.join(timeout=grace)
        gevent.sleep(0)
        env.stop_timeout = grace
        runner.stop()

    # -- steps ------------------------------------------------------------------------------

    def run_step(self, plan: StepPlan) -> StepWindow:
        """Set the level, wait the ramp, measure the hold (cut short and `aborted` if an abort trips)."""
        offered = self.set_level(plan)
        self._step_end = self.clock.now() + plan.ramp_s + plan.hold_s
        self.timeline.append(TimelineEntry(start_ts=self.clock.now(), plan=plan, offered_rps=offered))
        self._wait(plan.ramp_s, plan)
        before = self.snapshot()
        cpu_from = len(self.monitor.cpu)
        self._wait(plan.hold_s, plan)
        after = self.snapshot()
        cpu = [c for _, c in self.monitor.cpu[cpu_from:]] or [self._cpu_now()]
        saturated = max(cpu) > CPU_WARNING_THRESHOLD
        peak = SessionMonitor.peak_between
        window = window_between(
            before,
            after,
            plan=plan,
            users=self.runner.user_count,
            offered_rps=offered,
            cpu_percent=max(cpu),
            saturated=saturated,
            aborted=self.abort_reason is not None,
            concurrency_max=peak(self.monitor.concurrency, before.ts, after.ts),
            connections_max=peak(self.monitor.connections, before.ts, after.ts),
            lag_limit_ms=self.options.lag_limit_ms,
        )
        if saturated:
            self.cpu_warnings.append(
                f"step {plan.index} ({plan.label or plan.kind}): load generator CPU at {max(cpu):.0f} %; "
                "its figures may understate the app (add workers)"
            )
        self.measured.append(Measured(window=window, before=before, after=after))
        return window

    def set_level(self, plan: StepPlan) -> float | None:
        """Apply a step's level now; returns the offered rate (arrival-rate mode) or None."""
        self._current = plan
        if plan.mode is LevelMode.ARRIVAL_RATE:
            # The step may hold up to `ceiling` requests in flight. Users only ever grow: idle
            # ones cost a greenlet, not a connection (the pacer closes those), while stopping
            # users would kill requests in flight.
            ceiling = users_for_rate(
                plan.level, cap=self.options.max_users, latency_budget_s=self.options.latency_budget_s
            )
            self._set_rate(plan.level, ceiling)
            self._start_users(max(ceiling, self.runner.target_user_count), ramp_s=plan.ramp_s, fast=True)
            self._watch_slots(True)
            return plan.level
        self._set_rate(None, None)
        self._watch_slots(False)
        self._start_users(round(plan.level), ramp_s=plan.ramp_s, fast=False)
        return None

    def _set_rate(self, rate: float | None, ceiling: int | None) -> None:
        if self._control is None:
            self.pacer.set_rate(rate, max_concurrency=ceiling)
        else:
            self._control.set_rate(rate, max_concurrency=ceiling)

    def _watch_slots(self, paced: bool) -> None:
        """Sample requests in flight and open connections each tick in arrival-rate mode only."""
        if self._control is None:
            peak, connections = self.pacer.take_peak, self._connections.count
        else:
            peak, connections = self.sink.slots.take_remote_peak, self.sink.slots.remote_connections
        gauges = self.monitor.gauges
        self.monitor.gauges = Gauges(
            users=gauges.users,
            cpu_percent=gauges.cpu_percent,
            concurrency_peak=peak if paced else None,
            connections=connections if paced else None,
        )

    def _start_users(self, users: int, *, ramp_s: float, fast: bool) -> None:
        processes = max(1, self.options.workers + self.options.expect_workers)
        spawn_rate = self.options.spawn_rate
        if fast:  # arrival-rate mode: the pacer sets the rate, users only need to be there
            spawn_rate = max(spawn_rate, users / max(ramp_s, 1.0))
        spawn_rate = min(spawn_rate, MAX_SPAWN_RATE_PER_PROCESS * processes)
        if users == self.runner.target_user_count and self.runner.state != "ready":
            return
        self.runner.start(max(users, 0), spawn_rate=spawn_rate)

    def snapshot(self) -> StatsSnapshot:
        """Counters now; on a master, first pull every worker's latest figures (exact step edges)."""
        if self._control is not None:
            self._control.flush()
        return take_snapshot(self.environment.stats, self.sink, self.clock.now())

    def window_over(self, first: Measured, last: Measured, plan: StepPlan) -> StepWindow:
        """One window from `first`'s start to `last`'s end (e.g. a whole hold made of several windows)."""
        between = self.measured[self.measured.index(first) : self.measured.index(last) + 1]
        cpu = [m.window.generator_cpu_percent or 0.0 for m in between]
        concurrency = [m.window.concurrency_max for m in between if m.window.concurrency_max is not None]
        connections = [m.window.connections_max for m in between if m.window.connections_max is not None]
        return window_between(
            first.before,
            last.after,
            plan=plan,
            users=last.window.users,
            offered_rps=last.window.offered_rps,
            cpu_percent=max(cpu) if cpu else None,
            saturated=any(m.window.generator_saturated for m in between),
            aborted=any(m.window.aborted for m in between),
            concurrency_max=max(concurrency, default=None),
            connections_max=max(connections, default=None),
            lag_limit_ms=self.options.lag_limit_ms,
        )

    def clear_abort(self) -> None:
        """Acknowledge a tripped abort condition so that later steps run (never after an interrupt).

        The trailing samples it was computed from go too: the condition is then judged
        on traffic after this moment only, over a full `for_s` again.
        """
        if self.interrupted:
            raise RuntimeError("an interrupted session cannot go on")
        self.abort_reason = None
        self.monitor.restart()

    # -- waiting, sampling, abort, progress ---------------------------------------------------

    def _wait(self, seconds: float, plan: StepPlan) -> None:
        deadline = self.clock.now() + seconds
        while self.abort_reason is None:
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return
            self.clock.sleep(min(TICK_S, remaining))
            self.monitor.tick()
            self.abort_reason = self.monitor.abort_reason()
            self._check_stop()
            self._draw(plan)

    def _check_stop(self) -> None:
        if self.abort_reason is None and self.stop_requested is not None and self.stop_requested():
            self.interrupted = True
            self.abort_reason = INTERRUPTED_REASON

    def _cpu_now(self) -> float:
        """Load-generator CPU %: this process, or the busiest worker."""
        if self._control is None:
            return float(self._process.cpu_percent(None))
        reported = [float(c.cpu_usage) for c in self._control.clients()]
        return max([*reported, *self.sink.worker_cpu.values(), 0.0])

    def _draw(self, plan: StepPlan) -> None:
        """A planned scenario counts down its whole length; a search, the step's and its steps so far."""
        now = self.clock.now()
        planned = self.options.total_s is not None
        left = self.started_ts + (self.options.total_s or 0.0) - now if planned else self._step_end - now
        offered = plan.level if plan.mode is LevelMode.ARRIVAL_RATE else None
        step = None if planned else len(self.timeline)
        self.monitor.draw(plan.label or str(plan.kind), left, offered_rps=offered, step=step)

    def _on_cpu_warning(self, environment: Environment, cpu_usage: float, **_: Any) -> None:
        self.cpu_warnings.append(f"load generator CPU at {cpu_usage:.0f} % (Locust's cpu_warning)")

    def timeseries(self, scenario: str) -> list[TimeseriesPoint]:
        """The per-second series of the whole session (TOTAL and each endpoint)."""
        end = self.clock.now()
        return self.sink.timeseries(
            scenario=scenario,
            start_ts=self.started_ts,
            end_ts=end,
            timeline=self.timeline,
            users_by_second=self.monitor.users_by_second,
        )


def run_steps(
    session: LoadSession, plan: Generator[StepPlan, StepWindow, R], *, plan_handles_aborts: bool = False
) -> R:
    """Drive `plan`: measure each StepPlan it yields, send the StepWindow back, return its result.

    The window in which an abort condition tripped is sent too (`aborted=True`), so a plan
    can end with a result of its own. If it asks for another step instead, the plan is
    closed and ScenarioAborted raised; with `plan_handles_aborts` (a plan that lowers the
    load itself) the abort is cleared and the step runs. An interrupt always ends the plan.
    """
    try:
        step = next(plan)
        while True:
            window = session.run_step(step)
            step = plan.send(window)
            if window.aborted and plan_handles_aborts and not session.interrupted:
                session.clear_abort()
            elif window.aborted:
                plan.close()
                raise ScenarioAborted(session.abort_reason or "an abort condition tripped")
    except StopIteration as stop:
        result: R = stop.value
        return result
