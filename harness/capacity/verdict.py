"""The run's overall verdict: every SLO held, and the breaking point far enough above the expected peak.

The one place that decides "passed" and "headroom" for a whole run. It reads
any record that has the run's outcome (`results.RunRecord` does), so
`results/` only stores the verdict and `report/` only shows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from harness.measurements import (
    BreakingPoint,
    LevelInfo,
    LevelMode,
    RunStatus,
    RunVerdict,
    ScenarioKind,
    ScenarioStatus,
    SearchStatus,
    StepWindow,
    Verdict,
)

__all__ = ["RunOutcome", "ScenarioOutcome", "headroom", "judge_run"]


class ScenarioOutcome(Protocol):
    """What the verdict needs of one scenario (a `ScenarioResult` or a stored entry)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> ScenarioKind: ...
    @property
    def status(self) -> ScenarioStatus: ...
    @property
    def verdicts(self) -> list[Verdict]: ...
    @property
    def judged(self) -> StepWindow | None: ...


class RunOutcome(Protocol):
    """What the verdict needs of a run."""

    @property
    def status(self) -> RunStatus: ...
    @property
    def scenarios(self) -> Sequence[ScenarioOutcome]: ...
    @property
    def breaking_point(self) -> BreakingPoint | None: ...
    @property
    def expected_peak(self) -> LevelInfo | None: ...
    @property
    def required_headroom(self) -> float: ...
    def expected_load_scenario(self) -> ScenarioOutcome | None: ...


def headroom(run: RunOutcome) -> float | None:
    """Breaking point divided by the expected peak, in the same unit (None when not comparable).

    A users-mode peak against a throughput: the throughput the expected-load
    scenario achieved stands for the peak."""
    point, peak = run.breaking_point, run.expected_peak
    if point is None or peak is None or point.status != SearchStatus.FOUND or peak.value <= 0:
        return None
    if point.mode == peak.mode and point.level is not None:
        return point.level / peak.value
    if point.sustainable_rps is None:
        return None
    if peak.mode == LevelMode.ARRIVAL_RATE:
        return point.sustainable_rps / peak.value
    scenario = run.expected_load_scenario()
    if scenario is None or scenario.judged is None or scenario.judged.total.rps <= 0:
        return None
    return point.sustainable_rps / scenario.judged.total.rps


def judge_run(run: RunOutcome) -> RunVerdict:
    """Every scenario's SLOs held, none ended early, and the headroom meets `required_headroom`."""
    failed = [f"{s.name}: {v.describe()}" for s in run.scenarios for v in s.verdicts if not v.passed]
    failed += [
        f"{s.name}: {s.status}"
        for s in run.scenarios
        if s.status in {ScenarioStatus.ABORTED, ScenarioStatus.ERROR}
    ]
    ratio = headroom(run)
    headroom_ok = None if ratio is None else ratio >= run.required_headroom
    point = run.breaking_point
    if point is not None and point.status == SearchStatus.BROKEN_AT_START:
        headroom_ok = False
    if headroom_ok is False:
        shown = "below the first level" if ratio is None else f"{ratio:.2f}×"
        failed.append(f"headroom {shown} < required {run.required_headroom:g}×")
    slos_passed = not any(not v.passed for s in run.scenarios for v in s.verdicts)
    passed = not failed and run.status in {RunStatus.COMPLETE, RunStatus.RUNNING}
    return RunVerdict(
        passed=passed,
        slos_passed=slos_passed,
        headroom=ratio,
        headroom_ok=headroom_ok,
        failed_checks=failed,
    )
