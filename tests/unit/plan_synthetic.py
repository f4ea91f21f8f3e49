"""Multi-formation run directories for the capacity-plan report tests (unit and browser).

Written for real through `RunStore`/`RunWriter`; each formation has a found breaking
point with a 10 % bracket, a price and two minutes at the formation.
"""

from __future__ import annotations

from pathlib import Path

from harness.measurements import BreakingPoint, LevelMode, RunVerdict, SearchStatus
from harness.results import FormationRun, RunStatus, RunStore
from tests.unit.results_synthetic import synthetic_meta

__all__ = ["PER_DYNO_RPS", "breaking_point", "formation", "write_plan_run"]

PER_DYNO_RPS = 100.0


def breaking_point(rps: float, *, status: SearchStatus = SearchStatus.FOUND) -> BreakingPoint:
    """A search that found `rps` with a 10 % bracket in arrival-rate mode."""
    return BreakingPoint(
        status=status,
        mode=LevelMode.ARRIVAL_RATE,
        level=rps,
        sustainable_rps=rps,
        bracket_low=rps,
        bracket_high=rps * 1.1,
        criterion="p95_ms",
    )


def formation(index: int, dynos: int, rps: float | None, *, passed: bool = True) -> FormationRun:
    return FormationRun(
        index=index,
        dir=f"formations/{index + 1}-{dynos}x-standard-1x",
        size="Standard-1X",
        dynos=dynos,
        dyno_cost_per_hour_usd=25 / 720,
        status=RunStatus.COMPLETE,
        duration_s=120.0,
        cost_usd=dynos * 25 / 720 * 120 / 3600,
        breaking_point=breaking_point(rps) if rps is not None else None,
        breaking_scenario="search-stress",
        verdict=RunVerdict(passed=passed, slos_passed=True, failed_checks=[] if passed else ["headroom"]),
    )


def write_plan_run(root: Path, figures: dict[int, float | None]) -> Path:
    formations = [formation(i, n, rps, passed=n >= 3) for i, (n, rps) in enumerate(figures.items())]
    writer = RunStore(root).create("harness-demo", synthetic_meta())
    writer.update(
        formations=formations,
        prices_source="live",
        max_dynos_per_type=10,
        expected_peak={"mode": "arrival_rate", "value": 200.0},
        required_headroom=1.25,
    )
    writer.event("phase", phase="scale", detail="web=1:Standard-1X")
    passed = all(f.verdict is not None and f.verdict.passed for f in formations)
    writer.finish(RunStatus.COMPLETE, verdict=RunVerdict(passed=passed, slos_passed=True))
    return writer.path
