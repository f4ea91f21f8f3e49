"""A multi-formation run's record → its capacity plan (what `render_report(planner=...)` is given).

Reads what any run record with `formations` carries (`results.RunRecord`
does), through Protocols, so `capacity/` does not depend on `results/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from harness.capacity.planning.costs import Prices, PriceSource
from harness.capacity.planning.plan import CapacityPlan, plan_capacity
from harness.capacity.planning.points import CapacityPoint, point_from_bracket, point_from_repeats
from harness.measurements import BreakingPoint, LevelInfo, LevelMode, SearchStatus

__all__ = ["FormationOutcome", "PlannedRun", "plan_for_run", "point_from_breaking_point"]


class FormationOutcome(Protocol):
    """What planning needs of one formation of a run."""

    @property
    def size(self) -> str: ...
    @property
    def dynos(self) -> int: ...
    @property
    def dyno_cost_per_hour_usd(self) -> float | None: ...
    @property
    def breaking_point(self) -> BreakingPoint | None: ...
    def describe(self) -> str: ...


class PlannedRun(Protocol):
    """What planning needs of a run."""

    @property
    def formations(self) -> Sequence[FormationOutcome]: ...
    @property
    def expected_peak(self) -> LevelInfo | None: ...
    @property
    def required_headroom(self) -> float: ...
    @property
    def prices_source(self) -> str | None: ...
    @property
    def prices_as_of(self) -> str | None: ...
    @property
    def max_dynos_per_type(self) -> int | None: ...


def point_from_breaking_point(size: str, dynos: int, point: BreakingPoint | None) -> CapacityPoint | None:
    """The capacity a search measured, or None when it measured none (broken at the start, or no rate)."""
    if point is None or point.sustainable_rps is None or point.sustainable_rps <= 0:
        return None
    if point.status in {SearchStatus.BROKEN_AT_START, SearchStatus.ABORTED}:
        return None  # no capacity measured: it broke at once, or the search stopped before a bracket
    return point_from_bracket(
        size,
        dynos,
        point.sustainable_rps,
        bracket_low=point.bracket_low,
        bracket_high=point.bracket_high,
        at_least=point.status == SearchStatus.NOT_REACHED,
    )


def _excluded(formation: FormationOutcome) -> str:
    point = formation.breaking_point
    if point is None:
        return f"{formation.describe()}: no breaking point was measured (no stress scenario finished)."
    if point.status == SearchStatus.BROKEN_AT_START:
        return f"{formation.describe()}: it broke at the search's first level, so its capacity is unknown."
    if point.status == SearchStatus.ABORTED:
        return (
            f"{formation.describe()}: the search was aborted or interrupted before it bracketed the capacity."
        )
    return f"{formation.describe()}: the search measured no throughput."


def _one_point(found: Sequence[CapacityPoint]) -> CapacityPoint:
    """One formation's point: its only measurement, or the median and range of its repeats."""
    if len(found) == 1:
        return found[0]
    first = found[0]
    return point_from_repeats(first.size, first.dynos, [p.rps for p in found])


def plan_for_run(run: PlannedRun) -> CapacityPlan | None:
    """The capacity plan of a multi-formation run; None for a run of one formation."""
    if not run.formations:
        return None
    measured: dict[tuple[str, int], list[CapacityPoint]] = {}
    excluded, hourly = [], {}
    for formation in run.formations:
        if formation.dyno_cost_per_hour_usd is not None:
            hourly[formation.size] = formation.dyno_cost_per_hour_usd
        point = point_from_breaking_point(formation.size, formation.dynos, formation.breaking_point)
        if point is None:
            excluded.append(_excluded(formation))
        else:
            measured.setdefault((formation.size, formation.dynos), []).append(point)
    points = [_one_point(found) for found in measured.values()]
    prices = Prices(
        hourly_usd=hourly,
        source=PriceSource(run.prices_source or PriceSource.BUILTIN),
        as_of=run.prices_as_of,
    )
    peak = run.expected_peak
    plan = plan_capacity(
        points,
        prices,
        peak_rps=peak.value if peak is not None and peak.mode == LevelMode.ARRIVAL_RATE else None,
        headroom=run.required_headroom,
        max_dynos=run.max_dynos_per_type,
    )
    return plan.model_copy(update={"excluded": excluded})
