"""Step plans for load, spike and soak scenarios (the stress kind's plan is the search itself).

Each plan is a generator driven by `load.runner.run_steps`: it yields a
`StepPlan` and receives the measured `StepWindow`.

- **load**: ramp + warm-up, then the hold in `window_s` windows.
- **spike**: the base level, the spike, then back to the recovery level (default:
  the base) in `recovery.window_s` windows until the SLOs hold again (at most
  `recovery.limit_s`). The recovery time is from the drop until the start of the
  first window in which every SLO held.
- **soak**: like load with long windows.
"""

from __future__ import annotations

import math
from collections.abc import Generator

from harness.capacity.slo import judge
from harness.config import LoadScenario, Scenario, SoakScenario, SpikeScenario
from harness.measurements import Recovery, SloLimits, StepKind, StepPlan, StepWindow

__all__ = ["hold_plan", "planned_seconds", "spike_plan"]


def hold_plan(scenario: LoadScenario | SoakScenario) -> Generator[StepPlan, StepWindow, None]:
    """Warm-up (with the ramp), then the hold cut into `window_s` windows."""
    level, mode = scenario.level.value, scenario.level.mode
    index = 0
    ramp_s = scenario.ramp_s
    if scenario.warmup_s > 0:
        yield StepPlan(
            index=0,
            kind=StepKind.WARMUP,
            level=level,
            mode=mode,
            ramp_s=ramp_s,
            hold_s=scenario.warmup_s,
            label="warm-up",
        )
        index, ramp_s = 1, 0.0
    windows = max(1, math.ceil(scenario.hold_s / scenario.window_s - 1e-9))
    for n in range(windows):
        hold = min(scenario.window_s, scenario.hold_s - n * scenario.window_s)
        yield StepPlan(
            index=index + n,
            kind=StepKind.HOLD,
            level=level,
            mode=mode,
            ramp_s=ramp_s if n == 0 else 0.0,
            hold_s=hold,
            label=f"hold {n + 1}/{windows}",
        )


def spike_plan(scenario: SpikeScenario, limits: SloLimits) -> Generator[StepPlan, StepWindow, Recovery]:
    """Base, spike, then recovery windows until one meets every SLO; returns the recovery."""
    mode = scenario.base.mode
    yield StepPlan(
        index=0,
        kind=StepKind.HOLD,
        level=scenario.base.value,
        mode=mode,
        hold_s=scenario.base_s,
        label="base",
    )
    spike = yield StepPlan(
        index=1,
        kind=StepKind.SPIKE,
        level=scenario.spike.value,
        mode=mode,
        hold_s=scenario.spike_s,
        label="spike",
    )
    level = scenario.recovery.level.value if scenario.recovery.level is not None else scenario.base.value
    dropped_at = spike.end_ts
    index = 2
    while True:
        window = yield StepPlan(
            index=index,
            kind=StepKind.RECOVERY,
            level=level,
            mode=mode,
            hold_s=scenario.recovery.window_s,
            label=f"recovery {index - 1}",
        )
        if judge(window, limits).ok:
            return Recovery(
                level=level,
                recovered=True,
                time_to_recover_s=round(window.start_ts - dropped_at, 3),
                limit_s=scenario.recovery.limit_s,
            )
        if window.aborted or window.end_ts - dropped_at >= scenario.recovery.limit_s:
            return Recovery(level=level, recovered=False, limit_s=scenario.recovery.limit_s)
        index += 1


def planned_seconds(scenario: Scenario) -> float | None:
    """How long a scenario is planned to take (None for stress: the search decides)."""
    if isinstance(scenario, LoadScenario | SoakScenario):
        return scenario.ramp_s + scenario.warmup_s + scenario.hold_s
    if isinstance(scenario, SpikeScenario):
        return scenario.base_s + scenario.spike_s + scenario.recovery.limit_s
    return None
