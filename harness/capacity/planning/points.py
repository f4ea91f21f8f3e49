"""Measured capacity per formation, scaling efficiency, and where adding dynos stops helping.

A `CapacityPoint` is the breaking-point throughput (req/s) of one formation
(count × size) with its uncertainty: from independent repeats when there are
several, else from the search's bracket [last good, first broken] — the true
capacity lies somewhere inside it, so the centre is the bracket's midpoint.

Efficiency is X(n) / (n · X(1)): 100 % means every dyno adds a whole dyno's
capacity. When one dyno was not measured, the smallest measured count stands
in for it (X(n) · n₀ / (n · X(n₀))) and the text says so. Pure logic.
"""

from __future__ import annotations

import enum
import itertools
import statistics
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MIN_MARGINAL_GAIN",
    "CapacityPoint",
    "Efficiency",
    "ScalingStep",
    "ScalingStop",
    "Uncertainty",
    "efficiencies",
    "point_from_bracket",
    "point_from_repeats",
    "scaling_steps",
    "scaling_stop",
]

# A dyno that adds less than this share of one dyno's capacity is not worth buying: the limit is elsewhere.
MIN_MARGINAL_GAIN = 0.25


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Uncertainty(enum.StrEnum):
    """Where a point's interval comes from."""

    REPEATS = "repeats"  # the spread of independent repeats (min … max)
    BRACKET = "bracket"  # the search's bracket: last good level … first broken level
    NONE = "none"  # a single figure with nothing around it (e.g. the search never broke the app)


class CapacityPoint(_Frozen):
    """Breaking-point throughput of one formation, req/s, with its interval [low_rps, high_rps]."""

    size: str
    dynos: int = Field(ge=1)
    rps: float = Field(ge=0)  # the central estimate
    low_rps: float = Field(ge=0)
    high_rps: float = Field(ge=0)
    source: Uncertainty
    repeats: tuple[float, ...] = ()  # the repeat-level values, when the interval comes from repeats
    at_least: bool = False  # the search reached its maximum level unbroken: capacity is at least `rps`

    @property
    def per_dyno_rps(self) -> float:
        """Capacity per dyno at this count."""
        return self.rps / self.dynos

    def describe(self) -> str:
        """'2 × Standard-1X'."""
        return f"{self.dynos} × {self.size}"


def point_from_bracket(
    size: str,
    dynos: int,
    sustainable_rps: float,
    *,
    bracket_low: float | None = None,
    bracket_high: float | None = None,
    at_least: bool = False,
) -> CapacityPoint:
    """A point from one search: the capacity lies between the throughput of the last good level and
    that throughput scaled to the first broken level (the levels are users or req/s; their ratio is
    unit-free). Without a bracket the point has no interval."""
    if bracket_low and bracket_high and bracket_high > bracket_low and not at_least:
        high = sustainable_rps * bracket_high / bracket_low
        return CapacityPoint(
            size=size,
            dynos=dynos,
            rps=(sustainable_rps + high) / 2,
            low_rps=sustainable_rps,
            high_rps=high,
            source=Uncertainty.BRACKET,
        )
    return CapacityPoint(
        size=size,
        dynos=dynos,
        rps=sustainable_rps,
        low_rps=sustainable_rps,
        high_rps=sustainable_rps,
        source=Uncertainty.NONE,
        at_least=at_least,
    )


def point_from_repeats(size: str, dynos: int, values: Sequence[float]) -> CapacityPoint:
    """A point from independent repeats: the median, with the range of the repeats around it."""
    if not values:
        raise ValueError("point_from_repeats needs at least one value")
    if len(values) == 1:
        return point_from_bracket(size, dynos, values[0])
    return CapacityPoint(
        size=size,
        dynos=dynos,
        rps=statistics.median(values),
        low_rps=min(values),
        high_rps=max(values),
        source=Uncertainty.REPEATS,
        repeats=tuple(values),
    )


class Efficiency(_Frozen):
    """Scaling efficiency at one count, relative to `base_dynos` (1 when one dyno was measured)."""

    size: str
    dynos: int
    base_dynos: int
    efficiency: float  # X(n)·n₀ / (n·X(n₀)); 1.0 is linear
    low: float  # the worst case the intervals allow
    high: float  # the best case

    @property
    def ideal_rps_ratio(self) -> float:
        """n / n₀: what capacity would have multiplied by if scaling were linear."""
        return self.dynos / self.base_dynos


def _by_count(points: Sequence[CapacityPoint]) -> list[CapacityPoint]:
    """One point per count (the first given), in increasing count order, for one size."""
    sizes = {p.size for p in points}
    if len(sizes) > 1:
        raise ValueError(f"scaling is computed per dyno size; got {', '.join(sorted(sizes))}")
    chosen: dict[int, CapacityPoint] = {}
    for point in points:
        chosen.setdefault(point.dynos, point)
    return [chosen[n] for n in sorted(chosen)]


def efficiencies(points: Sequence[CapacityPoint]) -> list[Efficiency]:
    """Efficiency at every measured count of one size, relative to the smallest measured count."""
    ordered = _by_count(points)
    if not ordered or ordered[0].rps <= 0:
        return []
    base = ordered[0]
    out = []
    for p in ordered:
        scale = base.dynos / p.dynos
        low = scale * p.low_rps / base.high_rps if base.high_rps > 0 else 0.0
        high = scale * p.high_rps / base.low_rps if base.low_rps > 0 else float("inf")
        if p is base:
            low = high = 1.0
        out.append(
            Efficiency(
                size=p.size,
                dynos=p.dynos,
                base_dynos=base.dynos,
                efficiency=scale * p.rps / base.rps,
                low=low,
                high=high,
            )
        )
    return out


class ScalingStep(_Frozen):
    """From one measured count to the next: how much capacity rose, against the linear ideal."""

    size: str
    from_dynos: int
    to_dynos: int
    rise: float  # X(b)/X(a) − 1; negative when capacity fell
    ideal_rise: float  # b/a − 1
    marginal_gain: float  # capacity added per added dyno, as a share of one dyno's capacity at `from`

    @property
    def helps(self) -> bool:
        """Whether the added dynos were worth it (each added at least MIN_MARGINAL_GAIN of a dyno)."""
        return self.marginal_gain >= MIN_MARGINAL_GAIN


def scaling_steps(points: Sequence[CapacityPoint]) -> list[ScalingStep]:
    """Consecutive steps between the measured counts of one size."""
    ordered = _by_count(points)
    steps = []
    for a, b in itertools.pairwise(ordered):
        if a.rps <= 0:
            continue
        per_dyno = a.rps / a.dynos
        steps.append(
            ScalingStep(
                size=a.size,
                from_dynos=a.dynos,
                to_dynos=b.dynos,
                rise=b.rps / a.rps - 1.0,
                ideal_rise=b.dynos / a.dynos - 1.0,
                marginal_gain=(b.rps - a.rps) / ((b.dynos - a.dynos) * per_dyno),
            )
        )
    return steps


class ScalingStop(_Frozen):
    """Where adding dynos of one size stopped helping (`useful_dynos`), in words."""

    size: str
    useful_dynos: int  # the largest measured count up to which every step still helped
    stopped: bool  # a step after `useful_dynos` did not help
    step: ScalingStep | None = None  # that step
    sentence: str


def scaling_stop(points: Sequence[CapacityPoint]) -> ScalingStop | None:
    """The first step that did not help, said in words; None with fewer than two counts."""
    ordered = _by_count(points)
    steps = scaling_steps(ordered)
    if not steps:
        return None
    size = ordered[0].size
    for step in steps:
        if not step.helps:
            return ScalingStop(
                size=size,
                useful_dynos=step.from_dynos,
                stopped=True,
                step=step,
                sentence=_stop_sentence(step),
            )
    last = efficiencies(ordered)[-1]
    return ScalingStop(
        size=size,
        useful_dynos=ordered[-1].dynos,
        stopped=False,
        sentence=(
            f"Capacity grew with every {size} dyno measured: {last.dynos} dynos hold "
            f"{last.efficiency * last.ideal_rps_ratio:.1f}× what {_dynos(last.base_dynos)} held "
            f"(efficiency {last.efficiency:.0%})."
        ),
    )


def _dynos(n: int) -> str:
    return "one dyno" if n == 1 else f"{n} dynos"


def _stop_sentence(step: ScalingStep) -> str:
    where = f"From {step.from_dynos} to {step.to_dynos} {step.size} dynos"
    ideal = f"linear scaling would add {step.ideal_rise:.0%}"
    if step.rise < 0:
        return (
            f"{where} capacity fell {-step.rise:.0%} ({ideal}): the dynos get in each "
            "other's way on a shared resource — the database, an add-on, a lock — so more dynos make it "
            f"slower; more than {step.from_dynos} do not help."
        )
    return (
        f"{where} capacity rose {step.rise:.0%} ({ideal}): a shared bottleneck — the "
        f"database, an add-on, a lock — not the dynos, limits it; more than {step.from_dynos} do not help."
    )
