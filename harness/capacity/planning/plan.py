"""The whole capacity plan of a run: per dyno size the curve, the fit and the costs; then the advice.

`plan_capacity` is what the report renders: it takes the measured points of
every formation (any mix of sizes; each size is planned on its own) and
returns plain data, so the report only draws and words it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from harness.capacity.planning.costs import Prices, cost_per_million_requests, formation_cost
from harness.capacity.planning.points import (
    CapacityPoint,
    Efficiency,
    ScalingStop,
    efficiencies,
    scaling_stop,
)
from harness.capacity.planning.recommend import Recommendation, recommend
from harness.capacity.planning.usl import (
    DEFAULT_RESAMPLES,
    FitQuality,
    NotEnoughPoints,
    UslFit,
    fit_quality,
    fit_usl,
)

__all__ = ["CapacityPlan", "FormationFigures", "SizePlan", "plan_capacity"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FormationFigures(_Frozen):
    """One measured formation: its capacity, efficiency and what its requests cost."""

    point: CapacityPoint
    efficiency: Efficiency | None
    hourly_usd: float | None
    monthly_usd: float | None
    usd_per_million: float | None  # at the breaking point: the cheapest way to serve requests shows here


class SizePlan(_Frozen):
    """Everything planned for one dyno size."""

    size: str
    formations: list[FormationFigures]
    stop: ScalingStop | None  # where adding dynos stopped helping, in words
    quality: FitQuality
    fit: UslFit | None
    fit_note: str  # why there is no fit, or how far to trust it

    @property
    def sentences(self) -> list[str]:
        """What the report says about this size, most important first."""
        if self.stop is not None:
            out = [self.stop.sentence]
        else:
            out = [f"Only one {self.size} formation measured: no scaling curve for this size."]
        fit = self.fit
        if fit is not None and fit.peak_dynos is not None:
            text = f"The model puts the {self.size} peak at N* ≈ {fit.peak_dynos:.1f} dynos"
            if fit.peak_dynos > fit.max_measured:
                text += f", beyond the {fit.max_measured} measured: a forecast, not a measurement"
            out.append(text + "; past it, more dynos make the app slower.")
        out.append(self.fit_note)
        if self.fit is not None and self.fit.warning:
            out.append(self.fit.warning)
        return out


class CapacityPlan(_Frozen):
    """The capacity-planning section of a report."""

    sizes: list[SizePlan] = Field(default_factory=list)
    recommendation: Recommendation
    excluded: list[str] = Field(default_factory=list)  # formations with no capacity to plan on, and why


def _fit_note(size: str, counts: int, fit: UslFit | None, refusal: str) -> str:
    if fit is None:
        return refusal
    if fit.quality is FitQuality.ROUGH:
        return (
            f"Rough fit: {counts} {size} formations measured; 6 or more would make the curve and its band "
            "trustworthy."
        )
    return f"Fitted over {counts} {size} formations."


def _plan_size(size: str, points: Sequence[CapacityPoint], prices: Prices, resamples: int) -> SizePlan:
    ordered = sorted(points, key=lambda p: p.dynos)
    by_count = {e.dynos: e for e in efficiencies(ordered)}
    figures = []
    for point in ordered:
        cost = formation_cost(size, point.dynos, prices)
        figures.append(
            FormationFigures(
                point=point,
                efficiency=by_count.get(point.dynos),
                hourly_usd=cost.hourly_usd,
                monthly_usd=cost.monthly_usd,
                usd_per_million=cost_per_million_requests(cost.hourly_usd, point.rps),
            )
        )
    counts = len({p.dynos for p in ordered})
    fit, refusal = None, ""
    try:
        fit = fit_usl(ordered, resamples=resamples)
    except NotEnoughPoints as exc:
        refusal = str(exc)
    return SizePlan(
        size=size,
        formations=figures,
        stop=scaling_stop(ordered),
        quality=fit_quality(counts),
        fit=fit,
        fit_note=_fit_note(size, counts, fit, refusal),
    )


def plan_capacity(
    points: Sequence[CapacityPoint],
    prices: Prices,
    *,
    peak_rps: float | None,
    headroom: float,
    max_dynos: int | None = None,
    resamples: int = DEFAULT_RESAMPLES,
) -> CapacityPlan:
    """Plan every measured size, then recommend across them (`peak_rps` None: the peak is in users)."""
    sizes: dict[str, list[CapacityPoint]] = {}
    for point in points:
        sizes.setdefault(point.size, []).append(point)
    plans = [_plan_size(size, sized, prices, resamples) for size, sized in sizes.items()]
    advice = recommend(
        sizes,
        {plan.size: plan.fit for plan in plans},
        prices,
        peak_rps=peak_rps,
        headroom=headroom,
        max_dynos=max_dynos,
    )
    return CapacityPlan(sizes=plans, recommendation=advice)
