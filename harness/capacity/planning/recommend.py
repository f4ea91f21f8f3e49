"""The cheapest formation that holds the expected peak with the required headroom.

A candidate qualifies when the *lower* end of its capacity interval meets
peak × headroom: the model's 95 % band where a USL fit exists, else the
measured point's low end (and then only measured counts are candidates).
The rules keep the advice inside what was measured:

- only measured dyno sizes; never mixing sizes in one fit;
- beyond the largest measured count only with a fit, labelled
  "extrapolated", at most EXTRAPOLATION_FACTOR × that count, and never past
  the fit's peak N* (more dynos would make it slower);
- never past the point where a dyno stops paying for itself — measured
  (`points.scaling_stop`) or predicted (an added dyno that adds less than
  MIN_MARGINAL_GAIN of one dyno's capacity);
- Eco and Basic run at most one dyno per process type.

Among the qualifying candidates the cheapest per hour wins; ties go to fewer
dynos, then to a measured count over an extrapolated one. Pure logic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from harness.capacity.planning.costs import AUTOSCALING_NOTE, Prices, formation_cost
from harness.capacity.planning.points import MIN_MARGINAL_GAIN, CapacityPoint, scaling_stop
from harness.capacity.planning.usl import UslFit

__all__ = ["EXTRAPOLATION_FACTOR", "Candidate", "Recommendation", "candidates", "recommend"]

# Predictions stop at this multiple of the largest measured count: further out the fit is a guess.
EXTRAPOLATION_FACTOR = 2.0
SINGLE_DYNO_SIZES = frozenset({"eco", "basic"})  # Heroku runs at most one of these per process type


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Candidate(_Frozen):
    """One formation considered, with its predicted capacity and its price."""

    size: str
    dynos: int
    predicted_rps: float
    lower_rps: float  # the lower end of the capacity interval: what it holds with confidence
    upper_rps: float
    measured: bool  # this count was measured (else the model predicts it)
    extrapolated: bool  # outside the measured counts: a forecast, not a measurement
    basis: str  # 'model' (a USL fit) or 'measured' (the point itself)
    hourly_usd: float | None
    monthly_usd: float | None
    meets: bool = False  # lower_rps ≥ the required capacity

    def describe(self) -> str:
        """'4 × Standard-2X'."""
        return f"{self.dynos} × {self.size}"


class Recommendation(_Frozen):
    """The chosen formation (or none), the next smaller one that would not do, and every candidate."""

    peak_rps: float | None
    headroom: float
    required_rps: float | None
    choice: Candidate | None
    smaller: Candidate | None  # the same size one dyno smaller, which does not meet the requirement
    candidates: list[Candidate] = Field(default_factory=list)
    sentence: str
    notes: list[str] = Field(default_factory=list)


def _useful_limit(fit: UslFit | None, points: Sequence[CapacityPoint]) -> int:
    """The largest count worth buying: where measured scaling stopped, or where the model's added
    dyno brings less than MIN_MARGINAL_GAIN of one dyno, never past N*, never far past the measurements."""
    stop = scaling_stop(points)
    measured_max = max(p.dynos for p in points)
    limit = stop.useful_dynos if stop is not None and stop.stopped else measured_max
    if fit is None:
        return limit
    if stop is None or not stop.stopped:
        limit = math.floor(EXTRAPOLATION_FACTOR * fit.max_measured)
    if fit.peak_dynos is not None:
        limit = min(limit, max(1, math.floor(fit.peak_dynos)))
    n = 1
    while n < limit and fit.predict(n + 1) - fit.predict(n) >= MIN_MARGINAL_GAIN * fit.gamma:
        n += 1
    return n


def candidates(
    size: str,
    points: Sequence[CapacityPoint],
    fit: UslFit | None,
    prices: Prices,
    *,
    required_rps: float | None,
    max_dynos: int | None = None,
) -> list[Candidate]:
    """Every formation of one measured size worth considering, in increasing count order."""
    if not points:
        return []
    by_count = {p.dynos: p for p in sorted(points, key=lambda p: p.dynos, reverse=True)}
    measured = sorted(by_count)
    limit = _useful_limit(fit, points)
    if max_dynos is not None:
        limit = min(limit, max_dynos)
    if size.casefold() in SINGLE_DYNO_SIZES:
        limit = 1
    counts = range(1, limit + 1) if fit is not None else [n for n in measured if n <= limit]
    out = []
    for n in counts:
        cost = formation_cost(size, n, prices)
        if fit is not None:
            low, high = fit.interval(n)
            predicted, basis = fit.predict(n), "model"
        else:
            point = by_count[n]
            low, high, predicted, basis = point.low_rps, point.high_rps, point.rps, "measured"
        out.append(
            Candidate(
                size=size,
                dynos=n,
                predicted_rps=predicted,
                lower_rps=low,
                upper_rps=high,
                measured=n in by_count,
                extrapolated=not measured[0] <= n <= measured[-1],
                basis=basis,
                hourly_usd=cost.hourly_usd,
                monthly_usd=cost.monthly_usd,
                meets=required_rps is not None and low >= required_rps,
            )
        )
    return out


def _rank(candidate: Candidate) -> tuple[float, int, bool]:
    price = candidate.hourly_usd if candidate.hourly_usd is not None else math.inf
    return price, candidate.dynos, candidate.extrapolated


def recommend(
    points: Mapping[str, Sequence[CapacityPoint]],
    fits: Mapping[str, UslFit | None],
    prices: Prices,
    *,
    peak_rps: float | None,
    headroom: float,
    max_dynos: int | None = None,
) -> Recommendation:
    """The cheapest measured-size formation whose lower bound holds `peak_rps` × `headroom`.

    `peak_rps` None means the expected peak is not a rate (users mode): no recommendation, said so."""
    required = None if peak_rps is None else peak_rps * headroom
    pool = [
        c
        for size, sized in points.items()
        for c in candidates(size, sized, fits.get(size), prices, required_rps=required, max_dynos=max_dynos)
    ]
    notes = [AUTOSCALING_NOTE, prices.describe()]
    if peak_rps is None:
        sentence = (
            "No recommendation: the expected peak is given in users, not as a rate. Set expected_peak to "
            "{rps: …} to see how many dynos hold it."
        )
        return Recommendation(
            peak_rps=None, headroom=headroom, required_rps=None, choice=None, smaller=None,
            candidates=pool, sentence=sentence, notes=notes,
        )  # fmt: skip
    assert required is not None
    meeting = sorted((c for c in pool if c.meets), key=_rank)
    choice = meeting[0] if meeting else None
    smaller = None
    if choice is not None:
        smaller = next(
            (c for c in pool if c.size == choice.size and c.dynos == choice.dynos - 1 and not c.meets), None
        )
        if choice.extrapolated:
            notes.insert(0, _extrapolation_note(choice, points[choice.size]))
    sentence = (
        _choice_sentence(choice, smaller, peak_rps, headroom)
        if choice is not None
        else _none_sentence(pool, points, peak_rps, headroom, required)
    )
    return Recommendation(
        peak_rps=peak_rps, headroom=headroom, required_rps=required, choice=choice, smaller=smaller,
        candidates=pool, sentence=sentence, notes=notes,
    )  # fmt: skip


def _money(usd: float | None, unit: str) -> str:
    if usd is None:
        return "at an unknown price"
    return f"for ${usd:,.0f}/{unit}" if usd >= 100 else f"for ${usd:,.2f}/{unit}"


def _choice_sentence(choice: Candidate, smaller: Candidate | None, peak: float, headroom: float) -> str:
    extrapolated = " (extrapolated)" if choice.extrapolated else ""
    text = (
        f"{choice.describe()}{extrapolated} holds the expected {peak:,.0f} req/s with {headroom:g}× headroom "
        f"(lower bound {choice.lower_rps:,.0f} req/s) {_money(choice.monthly_usd, 'month')}"
    )
    if smaller is not None:
        word = "dyno" if smaller.dynos == 1 else "dynos"
        text += f"; {smaller.dynos} {word} would not (lower bound {smaller.lower_rps:,.0f} req/s)"
    return text + "."


def _none_sentence(
    pool: Sequence[Candidate],
    points: Mapping[str, Sequence[CapacityPoint]],
    peak: float,
    headroom: float,
    required: float,
) -> str:
    text = (
        f"No formation measured holds the expected {peak:,.0f} req/s with {headroom:g}× headroom "
        f"({required:,.0f} req/s needed)"
    )
    if not pool:
        return text + ": no breaking point was measured."
    best = max(pool, key=lambda c: c.lower_rps)
    text += f": the most is {best.describe()} (lower bound {best.lower_rps:,.0f} req/s)"
    stop = scaling_stop(points[best.size])
    if stop is not None and stop.step is not None:
        step = stop.step
        change = f"rose {step.rise:.0%}" if step.rise >= 0 else f"fell {-step.rise:.0%}"
        return (
            text + f", and more {best.size} dynos do not help: from {step.from_dynos} to {step.to_dynos} "
            f"capacity {change}. Look for the shared bottleneck, or measure a larger dyno size."
        )
    return text + ". Measure larger formations or a larger dyno size."


def _extrapolation_note(choice: Candidate, points: Sequence[CapacityPoint]) -> str:
    largest = max(p.dynos for p in points)
    return (
        f"{choice.describe()} is extrapolated: the largest {choice.size} formation measured had {largest} "
        f"dynos. Measure {choice.dynos} before relying on it."
    )
