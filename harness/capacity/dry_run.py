"""What a run would do before it does anything: each scenario's levels and load time, and the cost.

Pure logic, like the rest of `capacity/`: no platform, no Locust, no clock.
The stress estimate does not re-derive the search's step count: it drives the
breaking-point search itself (`capacity/search.py`, with the parameters the
real run uses, `SearchParams.from_scenario`) against a model app that keeps
up below a guessed break level and saturates above it, and reports the load
time the search spent there. The guess is twice the expected peak (at least
one growth step above the start), as before: where the app really breaks
decides the real figure, so the plan says "adaptive".
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

from harness.capacity.search import SearchParams, breaking_point_search
from harness.config import (
    Level,
    LoadScenario,
    Scenario,
    SoakScenario,
    SpikeScenario,
    StressScenario,
)
from harness.measurements import TOTAL, EndpointWindow, LevelMode, Percentiles, StepPlan, StepWindow

__all__ = [
    "SCALE_OVERHEAD_S",
    "PlannedFormation",
    "PlannedScenario",
    "TestPlan",
    "plan_run",
    "plan_scenario",
    "planned_seconds",
    "search_estimate_s",
]

# Scale-up and restore per formation, a conservative guess (seconds) for the cost estimate.
SCALE_OVERHEAD_S = 120.0
ADAPTIVE_NOTE = "adaptive: depends on where it breaks"
_FAST_MS, _SLOW_MS = 1.0, 600_000.0  # the model app's latency below and above its break level


@dataclass(frozen=True)
class PlannedScenario:
    """A scenario in the dry-run plan: its kind, levels and estimated load time."""

    name: str
    kind: str
    levels: str
    estimate_s: float
    estimate_note: str = ""


@dataclass(frozen=True)
class PlannedFormation:
    """A formation under test, as `web=2:Standard-1X`, with its USD/hour (None: a size with no price)."""

    description: str
    cost_per_hour_usd: float | None
    dynos: int = 1  # of the process type under test: what the test's dyno-hours count


@dataclass(frozen=True)
class TestPlan:
    """What a run would do, for `--dry-run` and the cost/duration estimate."""

    app: str
    platform: str
    formations: list[str]
    scenarios: list[PlannedScenario]
    load_s: float
    cost_per_hour_usd: list[float | None]
    estimated_cost_usd: float | None
    repeats: int = 1
    dyno_hours: float = 0.0  # of the process type under test, over all formations (load + scale time)

    def as_json(self) -> dict[str, Any]:
        """The plan for machines (`harness run --dry-run --json`)."""
        return {
            "app": self.app,
            "platform": self.platform,
            "formations": self.formations,
            "cost_per_hour_usd": self.cost_per_hour_usd,
            "scenarios": [vars(s) for s in self.scenarios],
            "load_s": self.load_s,
            "repeats": self.repeats,
            "estimated_cost_usd": self.estimated_cost_usd,
            "dyno_hours": self.dyno_hours,
        }


def planned_seconds(scenario: Scenario) -> float | None:
    """How long a scenario is planned to take (None for stress: the search decides)."""
    if isinstance(scenario, LoadScenario | SoakScenario):
        return scenario.ramp_s + scenario.warmup_s + scenario.hold_s
    if isinstance(scenario, SpikeScenario):
        return scenario.base_s + scenario.spike_s + scenario.recovery.limit_s
    return None


def _model_window(plan: StepPlan, break_level: float, start_ts: float) -> StepWindow:
    """What a model app measures at `plan.level`: all served below `break_level`, saturated above.

    Above the break it serves `break_level` (1 req/s per user in users mode), rejects the rest and
    answers slowly, so whichever criteria the scenario's SLO has, the step breaks."""
    offered = plan.level
    served = min(offered, break_level)
    failed = offered - served
    latency = _FAST_MS if offered < break_level else _SLOW_MS
    total = EndpointWindow(
        method="",
        name=TOTAL,
        requests=round(offered * plan.hold_s),
        failures=round(failed * plan.hold_s),
        rps=offered,
        failures_per_s=failed,
        error_ratio=failed / offered if offered else 0.0,
        latency=Percentiles(p50_ms=latency, p90_ms=latency, p95_ms=latency, p99_ms=latency, max_ms=latency),
    )
    return StepWindow(
        plan=plan,
        start_ts=start_ts,
        end_ts=start_ts + plan.hold_s,
        users=round(offered) if plan.mode is LevelMode.USERS else 0,
        offered_rps=offered if plan.mode is LevelMode.ARRIVAL_RATE else None,
        total=total,
    )


def search_estimate_s(scenario: StressScenario, expected: Level) -> float:
    """Time (s, ramps and drains included: the formation runs through both) the breaking-point search
    takes on an app that breaks near twice `expected` (when in the scenario's unit; else one growth
    step above the start)."""
    params = SearchParams.from_scenario(scenario, expected=expected)
    peak = expected.value if expected.mode == scenario.start.mode else scenario.start.value
    break_level = max(scenario.start.value * scenario.growth, 2.0 * peak)
    search: Generator[StepPlan, StepWindow, Any] = breaking_point_search(params)
    clock = 0.0
    try:
        plan = next(search)
        while True:
            clock += plan.ramp_s
            window = _model_window(plan, break_level, clock)
            clock = window.end_ts
            plan = search.send(window)
    except StopIteration as done:
        point = done.value.breaking_point
        return float(point.load_time_s + point.idle_time_s)


def _levels(scenario: Scenario) -> str:
    if isinstance(scenario, StressScenario):
        return (
            f"{scenario.start.describe()} → at most {scenario.max.describe()}, "
            f"×{scenario.growth:g} then narrowed to {scenario.tolerance:.0%}"
        )
    if isinstance(scenario, SpikeScenario):
        return f"{scenario.base.describe()} → spike {scenario.spike.describe()} → back"
    return scenario.level.describe()


def plan_scenario(scenario: Scenario, expected: Level) -> PlannedScenario:
    """One scenario's line of the plan: its levels and estimated load time."""
    if isinstance(scenario, StressScenario):
        seconds, note = search_estimate_s(scenario, expected), ADAPTIVE_NOTE
    else:
        seconds, note = planned_seconds(scenario) or 0.0, ""
    return PlannedScenario(scenario.name, scenario.kind, _levels(scenario), float(seconds), note)


def plan_run(
    scenarios: Sequence[Scenario],
    *,
    expected: Level,
    app: str,
    platform: str,
    formations: Sequence[PlannedFormation],
    repeats: int = 1,
) -> TestPlan:
    """The dry-run plan: every formation runs every scenario `repeats` times; the test's cost is each
    formation's dynos (and USD/hour) × its load + scale time, summed over the formations."""
    planned = [plan_scenario(s, expected) for s in scenarios]
    load_s = repeats * sum(p.estimate_s for p in planned)
    costs = [f.cost_per_hour_usd for f in formations]
    hours_each = (load_s + SCALE_OVERHEAD_S) / 3600
    total = None
    if all(c is not None for c in costs):
        total = sum((c or 0.0) * hours_each for c in costs)
    return TestPlan(
        app=app,
        platform=platform,
        formations=[f.description for f in formations],
        scenarios=planned,
        load_s=load_s,
        cost_per_hour_usd=costs,
        estimated_cost_usd=total,
        repeats=repeats,
        dyno_hours=sum(f.dynos for f in formations) * hours_each,
    )
