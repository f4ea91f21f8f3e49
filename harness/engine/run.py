"""One scenario end to end → `ScenarioResult`: its plan driven through `load/`, judged by `capacity/`.

Verdicts are judged on the aggregate window of the measured phase only: ramp
and warm-up windows are recorded but never judged. A load or soak scenario is
judged on its whole hold (soak adds the p95 drift: last window / first − 1;
dyno memory drift is not measured here), a spike on its base phase plus the
recovery, a stress scenario by the breaking-point search.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TextIO, TypeVar

from harness.capacity.repeat_search import bracket_params
from harness.capacity.search import SearchParams, SearchStatus, breaking_point_search
from harness.capacity.slo import judge, slo_limits, step_record
from harness.config import (
    Config,
    LoadScenario,
    Scenario,
    SoakScenario,
    SpikeScenario,
    StressScenario,
)
from harness.engine.plans import hold_plan, planned_seconds, spike_plan
from harness.errors import LoadError
from harness.load.locustfile import load_locustfile, select_user_classes
from harness.load.pacing import PacingMode, latency_budget_for
from harness.load.progress import Progress
from harness.load.runner import (
    INTERRUPTED_REASON,
    Clock,
    LoadSession,
    Measured,
    ScenarioAborted,
    SessionOptions,
    ensure_reachable,
    run_steps,
)
from harness.load.slots import lag_limit_ms
from harness.load.stats import error_counts_between
from harness.measurements import (
    ErrorCount,
    LevelMode,
    Recovery,
    ScenarioKind,
    ScenarioResult,
    ScenarioStatus,
    SloLimits,
    StepKind,
    StepPlan,
    StepRecord,
    StepWindow,
    TimeseriesPoint,
    Verdict,
)

__all__ = ["run_scenario", "session_options"]

R = TypeVar("R")


def session_options(
    config: Config,
    scenario: Scenario,
    *,
    host: str,
    workers: int | None = None,
    expect_workers: int | None = None,
    ca_file: Path | None = None,
) -> SessionOptions:
    """The load generator settings for one scenario (CLI flags override scenarios.yaml)."""
    generator = config.load_generator
    spec = config.locustfile_for(scenario)
    expected_remote = generator.expect_workers if expect_workers is None else expect_workers
    return SessionOptions(
        host=host,
        locustfile=spec.path,
        workers=generator.workers if workers is None else workers,
        expect_workers=expected_remote,
        master_bind_host=generator.master_bind_host,
        # Only remote workers need a known port; local ones are told whichever port is free.
        master_bind_port=generator.master_bind_port if expected_remote else 0,
        worker_join_timeout_s=generator.worker_join_timeout_s,
        request_timeout_s=generator.request_timeout_s,
        spawn_rate=scenario.spawn_rate,
        pacing=PacingMode(generator.pacing),
        max_users=generator.max_users,
        latency_budget_s=generator.latency_budget_s or latency_budget_for(_latency_limits_ms(scenario)),
        lag_limit_ms=lag_limit_ms(scenario.slo.p95_ms),
        abort=scenario.abort,
        total_s=planned_seconds(scenario),
        ca_file=ca_file,
    )


def _latency_limits_ms(scenario: Scenario) -> list[float]:
    """Every latency limit of the scenario's SLO, in total and per endpoint (ms)."""
    slo = scenario.slo
    limits = [slo.p50_ms, slo.p95_ms, slo.p99_ms]
    limits += [v for e in slo.endpoints.values() for v in (e.p50_ms, e.p95_ms, e.p99_ms)]
    return [v for v in limits if v is not None]


def run_scenario(
    config: Config,
    scenario: Scenario,
    *,
    host: str,
    workers: int | None = None,
    expect_workers: int | None = None,
    quiet: bool = False,
    stream: TextIO | None = None,
    clock: Clock | None = None,
    stop_requested: Callable[[], bool] | None = None,
    on_timeseries: Callable[[list[TimeseriesPoint]], None] | None = None,
    search_near: float | None = None,
    on_step: Callable[[StepPlan], None] | None = None,
    ca_file: Path | None = None,
) -> ScenarioResult:
    """Run one scenario against `host` (a base URL) and return everything it measured.

    `search_near`: a stress scenario's level found by an earlier repeat; the search then re-measures
    only the bracket around it (`capacity.repeat_search`).

    `stop_requested` is polled every tick; once it answers True the scenario ends early with
    status 'interrupted' and what it measured so far (the pipeline's first Ctrl-C).
    `on_timeseries` is given the seconds completed so far after each measured window, once each
    (so a run directory keeps them even if the process is killed before the scenario ends).
    `on_step` is told of each step as it starts (a run directory records where a killed run was).
    `ca_file`: a CA trusted besides the system's (the emulator's; the platform decides)."""
    host = host.rstrip("/")  # Locust joins host + "/path": a trailing slash would make "//path"
    ensure_reachable(host)
    spec = config.locustfile_for(scenario)
    classes = select_user_classes(load_locustfile(spec.path), spec.user_classes)
    options = session_options(
        config, scenario, host=host, workers=workers, expect_workers=expect_workers, ca_file=ca_file
    )
    progress = Progress(scenario.name, stream=stream, enabled=not quiet)
    started = time.time()
    with LoadSession(
        classes, options, clock=clock, progress=progress, stop_requested=stop_requested
    ) as session:
        watch = _Watch(session, scenario.name, on_timeseries, on_step)
        try:
            result = _run_kind(config, scenario, session, watch, search_near)
        except ScenarioAborted as aborted:
            result = _finish(scenario, session, status=ScenarioStatus.ABORTED, abort_reason=aborted.reason)
        result = result.model_copy(
            update={
                "started_ts": started,
                "ended_ts": time.time(),
                "timeseries": session.timeseries(scenario.name),
                "errors": _all_errors(session),
                "cpu_warnings": list(session.cpu_warnings),
                "workers": options.workers + options.expect_workers,
                "limits": _limits(scenario),
                "abort_for_s": scenario.abort.for_s if scenario.abort is not None else None,
                "locustfile_sha256": hashlib.sha256(Path(spec.path).read_bytes()).hexdigest(),
            }
        )
        if session.interrupted:
            interrupted = {"status": ScenarioStatus.INTERRUPTED, "abort_reason": INTERRUPTED_REASON}
            result = result.model_copy(update=interrupted)
    return result


class _Watch:
    """Wraps a step plan so that each measured window hands the newly completed seconds on."""

    def __init__(
        self,
        session: LoadSession,
        name: str,
        sink: Callable[[list[TimeseriesPoint]], None] | None,
        on_step: Callable[[StepPlan], None] | None = None,
    ) -> None:
        self.session, self.name, self.sink, self.on_step = session, name, sink, on_step
        self.last_second = -math.inf

    def __call__(self, plan: Generator[StepPlan, StepWindow, R]) -> Generator[StepPlan, StepWindow, R]:
        """`plan`, unchanged, with a hand-over after each window."""
        try:
            step = next(plan)
            while True:
                if self.on_step is not None:
                    self.on_step(step)
                window = yield step
                self.hand_over()
                step = plan.send(window)
        except StopIteration as done:
            result: R = done.value
            return result
        finally:
            plan.close()

    def hand_over(self) -> None:
        """Seconds fully over since the last hand-over (a second still running may still change)."""
        if self.sink is None:
            return
        now = int(self.session.clock.now())
        points = [p for p in self.session.timeseries(self.name) if self.last_second < p.ts < now]
        if points:
            self.last_second = max(p.ts for p in points)
            self.sink(points)


def _run_kind(
    config: Config, scenario: Scenario, session: LoadSession, watch: _Watch, near: float | None
) -> ScenarioResult:
    if isinstance(scenario, LoadScenario | SoakScenario):
        run_steps(session, watch(hold_plan(scenario)))
        return _judge_hold(scenario, session)
    if isinstance(scenario, SpikeScenario):
        return _run_spike(scenario, session, watch)
    if isinstance(scenario, StressScenario):
        return _run_stress(config, scenario, session, watch, near)
    raise TypeError(f"unknown scenario kind: {scenario!r}")


def _limits(scenario: Scenario) -> SloLimits:
    return slo_limits(scenario.slo)


def _records(session: LoadSession, limits: SloLimits) -> list[StepRecord]:
    """Every measured step; ramp and warm-up windows carry no verdicts."""
    records = []
    for measured in session.measured:
        window = measured.window
        if window.plan.kind in (StepKind.RAMP, StepKind.WARMUP):
            records.append(StepRecord(window=window, note="warm-up: not judged"))
            continue
        note = window.generator_note
        records.append(step_record(window, judge(window, limits), note))
    return records


def _judge_hold(scenario: LoadScenario | SoakScenario, session: LoadSession) -> ScenarioResult:
    holds = [m for m in session.measured if m.window.plan.kind is StepKind.HOLD]
    if not holds:
        raise LoadError(f"scenario '{scenario.name}' measured no hold window (was it aborted?)")
    limits = _limits(scenario)
    judged = _aggregate(session, holds, label="hold (judged)")
    verdicts = list(judge(judged, limits).verdicts)
    if isinstance(scenario, SoakScenario):
        verdicts.append(_p95_drift(holds, scenario.max_p95_drift_ratio))
    return _finish(scenario, session, status=_status(verdicts), judged=judged, verdicts=verdicts)


def _aggregate(session: LoadSession, parts: list[Measured], *, label: str) -> StepWindow:
    first, last = parts[0], parts[-1]
    plan = first.window.plan.model_copy(
        update={"hold_s": max(last.after.ts - first.before.ts, 1e-3), "label": label}
    )
    return session.window_over(first, last, plan)


def _p95_drift(holds: list[Measured], limit: float) -> Verdict:
    """Soak: how much the p95 of the last window grew over the first."""
    first, last = holds[0].window.total.latency.p95_ms, holds[-1].window.total.latency.p95_ms
    drift = None if not first or last is None else round(last / first - 1.0, 4)
    return Verdict(
        criterion="p95_drift_ratio",
        threshold=limit,
        measured=drift,
        passed=drift is None or drift <= limit,
        unit="ratio",
    )


def _run_spike(scenario: SpikeScenario, session: LoadSession, watch: _Watch) -> ScenarioResult:
    limits = _limits(scenario)
    recovery = run_steps(session, watch(spike_plan(scenario, limits.model_copy(update={"min_rps": None}))))
    base = [m for m in session.measured if m.window.plan.label == "base"]
    judged = _aggregate(session, base, label="base (judged)") if base else None
    verdicts = list(judge(judged, limits).verdicts) if judged is not None else []
    verdicts.append(
        Verdict(
            criterion="recovery_s",
            threshold=recovery.limit_s,
            measured=recovery.time_to_recover_s,
            passed=recovery.recovered,
            unit="s",
        )
    )
    status = _status(verdicts)
    return _finish(scenario, session, status=status, judged=judged, verdicts=verdicts, recovery=recovery)


def _run_stress(
    config: Config, scenario: StressScenario, session: LoadSession, watch: _Watch, near: float | None
) -> ScenarioResult:
    """The breaking-point search; an abort caps it (it lowers the load and goes on), an interrupt ends it.
    Near an earlier repeat's answer it searches the bracket only, and in full if that broke at once."""
    params = SearchParams.from_scenario(scenario, expected=config.expected_peak)
    bracket = bracket_params(params, near) if near is not None else None
    search = breaking_point_search(bracket or params, interrupted=lambda: session.interrupted)
    found = run_steps(session, watch(search), plan_handles_aborts=True)
    if bracket is not None and found.breaking_point.status == SearchStatus.BROKEN_AT_START:
        search = breaking_point_search(params, interrupted=lambda: session.interrupted)
        found = run_steps(session, watch(search), plan_handles_aborts=True)
    aborted = found.breaking_point.status == SearchStatus.ABORTED
    return ScenarioResult(
        name=scenario.name,
        kind=ScenarioKind.STRESS,
        mode=scenario.start.mode,
        status=ScenarioStatus.ABORTED if aborted else ScenarioStatus.PASSED,
        started_ts=session.started_ts,
        ended_ts=session.clock.now(),
        steps=list(found.steps),
        breaking_point=found.breaking_point,
        recovery=found.recovery,
        abort_reason=_stress_abort_reason(session, found.stop_reason) if aborted else None,
    )


def _stress_abort_reason(session: LoadSession, stop_reason: str | None) -> str:
    """Why the search ended early: its own reason, with the abort condition's figures when one tripped."""
    tripped = None if session.interrupted else session.abort_reason
    if stop_reason and tripped:
        return f"{stop_reason} ({tripped})"
    return stop_reason or tripped or "the breaking-point search ended early"


def _finish(
    scenario: Scenario,
    session: LoadSession,
    *,
    status: ScenarioStatus,
    judged: StepWindow | None = None,
    verdicts: list[Verdict] | None = None,
    recovery: Recovery | None = None,
    abort_reason: str | None = None,
) -> ScenarioResult:
    mode = scenario.start.mode if isinstance(scenario, StressScenario) else _level_mode(scenario)
    return ScenarioResult(
        name=scenario.name,
        kind=ScenarioKind(scenario.kind),
        mode=mode,
        status=status,
        started_ts=session.started_ts,
        ended_ts=session.clock.now(),
        steps=_records(session, _limits(scenario)),
        judged=judged,
        verdicts=verdicts or [],
        recovery=recovery,
        abort_reason=abort_reason,
    )


def _status(verdicts: list[Verdict]) -> ScenarioStatus:
    return ScenarioStatus.PASSED if all(v.passed for v in verdicts) else ScenarioStatus.FAILED


def _level_mode(scenario: LoadScenario | SoakScenario | SpikeScenario) -> LevelMode:
    return scenario.base.mode if isinstance(scenario, SpikeScenario) else scenario.level.mode


def _all_errors(session: LoadSession) -> list[ErrorCount]:
    """Failures of the whole scenario by endpoint, kind and status."""
    if not session.measured:
        return []
    first = session.measured[0].before
    return error_counts_between(first, session.snapshot())
