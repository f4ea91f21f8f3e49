"""What the breaking-point search is given (`SearchParams`) and what it returns (`SearchResult`).

Apart from the search itself (`search.py`) so that the dry-run plan and the
engine can read the parameters without the algorithm.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.capacity.slo import slo_limits
from harness.config import AbortCondition, Level, StressScenario
from harness.measurements import BreakingPoint, LevelMode, Metastability, Recovery, SloLimits, StepRecord

__all__ = ["ABORT_CRITERION", "SearchParams", "SearchResult"]


# The criterion of a step that an abort condition ended (its verdict: error ratio vs the abort limit).
ABORT_CRITERION = "abort"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SearchParams(_Frozen):
    """Everything the search needs; levels in users or req/s (per `mode`), times in seconds."""

    mode: LevelMode
    start_level: float = Field(gt=0)
    max_level: float = Field(gt=0)
    limits: SloLimits
    growth: float = Field(default=2.0, gt=1)
    tolerance: float = Field(default=0.05, gt=0, lt=1)  # bracket width, relative to its low end
    ramp_s: float = Field(default=1.0, ge=0)  # before each probe/bisect/confirm window; not measured
    step_hold_s: float = Field(default=4.0, gt=0)
    confirm_hold_s: float = Field(default=8.0, gt=0)
    confirm_attempts: int = Field(default=3, ge=1)  # failed long holds before giving up on confirming
    recovery_level: float | None = Field(default=None, gt=0)  # default: start_level
    measure_recovery: bool = True  # report the recovery after the first break (cool-downs happen anyway)
    recovery_window_s: float = Field(default=2.0, gt=0)
    recovery_limit_s: float = Field(default=30.0, gt=0)
    max_overshoot: float = Field(default=1.3, gt=1)  # after a break: levels ≤ this × best good req/s
    drain_s: float = Field(default=5.0, gt=0)  # no-load time after a break (the first gets a cool-down)
    max_steps: int = Field(default=60, ge=1)  # every yielded step counts, recovery windows included
    abort: AbortCondition | None = None  # the driver's abort condition: the limit in an `abort` verdict

    @model_validator(mode="after")
    def _ordered(self) -> SearchParams:
        if self.max_level < self.start_level:
            raise ValueError("max_level must not be below start_level")
        return self

    @classmethod
    def from_scenario(cls, scenario: StressScenario, *, expected: Level | None = None) -> SearchParams:
        """Parameters for a `stress` scenario of scenarios.yaml.

        The minimum-throughput SLO is left out: it is about the expected load
        (a load scenario's question), and every low probe of a stress search
        would fail it. Recovery drops to the scenario's recovery level, else
        `expected` (the config's expected peak), else the start level.
        """
        limits = slo_limits(scenario.slo, saturation_tolerance=scenario.saturation_tolerance)
        recovery = scenario.recovery
        level = recovery.level if recovery is not None and recovery.level is not None else expected
        same_unit = level is not None and level.mode == scenario.start.mode
        return cls(
            mode=scenario.start.mode,
            start_level=scenario.start.value,
            max_level=scenario.max.value,
            limits=limits.model_copy(update={"min_rps": None}),
            growth=scenario.growth,
            tolerance=scenario.tolerance,
            ramp_s=scenario.ramp_s,
            step_hold_s=scenario.step_hold_s,
            confirm_hold_s=max(scenario.confirm_hold_s, scenario.step_hold_s),
            recovery_level=level.value if same_unit and level is not None else None,
            measure_recovery=recovery is not None,
            recovery_window_s=recovery.window_s if recovery is not None else 2.0,
            recovery_limit_s=recovery.limit_s if recovery is not None else 30.0,
            max_overshoot=scenario.max_overshoot,
            drain_s=scenario.drain_s,
            abort=scenario.abort,
        )


class SearchResult(_Frozen):
    """What a search found, plus everything it measured on the way (for the report)."""

    breaking_point: BreakingPoint
    steps: list[StepRecord]
    recovery: Recovery | None = None  # after the first break; None when none was measured
    confirmed: bool = False  # the reported level held over a `confirm_hold_s` window
    capacity_estimate_rps: float | None = None  # pooled successful throughput of saturated steps
    stop_reason: str | None = None  # why it ended early (abort, no recovery, generator, budget)
    metastability: Metastability | None = None  # also on `breaking_point`: served less after an overload
    notes: list[str] = Field(default_factory=list)
