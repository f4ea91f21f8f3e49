"""Comparing two releases on repeat-level values: a centre with its interval, the change, and a verdict.

The sample unit is one independent repeat (one breaking point, one p95 of a
held load), never per-request latencies: requests of one run share warm-up,
caches and neighbours, so they are not independent (benchstat, Pinpoint and
Perfherder all compare one value per run).

- **Centre**: the median with a distribution-free 95 % interval from order
  statistics (binomial), as benchstat does; too few values give no interval.
- **Change**: new/base as a ratio of means, with a studentized bootstrap
  interval over the repeat values of each side (resampled independently).
  The Mann-Whitney U p-value is shown beside it, not used for the verdict.
- **Verdict** against a practical margin δ (default 5 %), in the metric's
  good direction: *regressed* / *improved* when the whole interval lies
  beyond −δ / +δ, *no significant change* when it lies inside ±δ, else
  *inconclusive* with an estimate of the repeats that would settle it.
  With fewer than `MIN_REPEATS` values a side there is no verdict at all:
  with 3 runs a side the smallest possible two-sided U p-value is 0.1.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import stats

__all__ = [
    "DEFAULT_MARGIN",
    "MIN_REPEATS",
    "Centre",
    "Change",
    "Direction",
    "MetricComparison",
    "Outcome",
    "centre",
    "compare_metric",
]

MIN_REPEATS = 4  # a side: below this no U test can reach p < 0.05, so no verdict
DEFAULT_MARGIN = 0.05  # δ: changes smaller than 5 % are not worth a verdict
CONFIDENCE = 0.95
RESAMPLES = 4000


class Direction(enum.StrEnum):
    """Which way is better for a metric."""

    HIGHER = "higher"  # throughput, breaking point
    LOWER = "lower"  # latency, error ratio


class Outcome(enum.StrEnum):
    """The four answers (and the withheld one)."""

    REGRESSED = "regressed"
    IMPROVED = "improved"
    NO_CHANGE = "no significant change"
    INCONCLUSIVE = "inconclusive"
    TOO_FEW = "too few repeats"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Centre(_Frozen):
    """A side's median with its 95 % interval (None when the sample is too small for one)."""

    median: float | None
    low: float | None = None
    high: float | None = None
    n: int


class Change(_Frozen):
    """new/base − 1 (0.05: 5 % higher) with its bootstrap interval."""

    ratio: float  # new/base − 1
    low: float
    high: float


class MetricComparison(_Frozen):
    """One metric compared: both centres, the change, the p-value, the verdict, and why."""

    metric: str
    unit: str
    direction: Direction
    base: Centre
    new: Centre
    change: Change | None
    p_value: float | None
    outcome: Outcome
    margin: float
    gate: bool = False  # pre-declared gate metric (the others are informational)
    more_repeats: int | None = None  # inconclusive: repeats a side that would likely settle it
    sentence: str = ""


def centre(values: Sequence[float], confidence: float = CONFIDENCE) -> Centre:
    """Median and its order-statistic interval: the ranks whose binomial coverage reaches `confidence`."""
    data = np.sort(np.asarray(values, dtype=float))
    n = len(data)
    if n == 0:
        return Centre(median=None, n=0)
    median = float(np.median(data))
    # Largest k with P(k ≤ rank-of-median < n-k) ≥ confidence, ranks counted from 0.
    best: tuple[float, float] | None = None
    for k in range(n // 2, -1, -1):
        coverage = stats.binom.cdf(n - k - 1, n, 0.5) - stats.binom.cdf(k - 1, n, 0.5)
        if coverage >= confidence:
            best = (float(data[k]), float(data[n - k - 1]))
            break
    if best is None:
        return Centre(median=median, n=n)
    return Centre(median=median, low=best[0], high=best[1], n=n)


def _ratio_and_se(base: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ratio of means new/base and its delta-method standard error, along the last axis."""
    mb, mn = base.mean(axis=-1), new.mean(axis=-1)
    vb = base.var(axis=-1, ddof=1) / base.shape[-1]
    vn = new.var(axis=-1, ddof=1) / new.shape[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mn / mb
        se = np.abs(ratio) * np.sqrt(vn / mn**2 + vb / mb**2)
    return ratio, se


def _change(base: np.ndarray, new: np.ndarray, *, seed: int) -> Change | None:
    """Ratio of means new/base − 1 with a studentized (bootstrap-t) interval, sides resampled apart.

    A plain percentile bootstrap is far too narrow with 4-6 repeats a side (it
    cannot see more spread than the few values show); studentizing each
    resample by its own standard error restores the coverage small samples need.
    """
    if base.mean() == 0 or len(base) < 2 or len(new) < 2:
        return None
    ratio, se = _ratio_and_se(base, new)
    rng = np.random.default_rng(seed)
    b = rng.choice(base, size=(RESAMPLES, len(base)), replace=True)
    n = rng.choice(new, size=(RESAMPLES, len(new)), replace=True)
    ratios, ses = _ratio_and_se(b, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (ratios - ratio) / ses
    t = t[np.isfinite(t)]
    if se == 0 or len(t) < RESAMPLES // 2:  # no spread at all: the ratio is exact
        return Change(ratio=float(ratio - 1), low=float(ratio - 1), high=float(ratio - 1))
    tail = (1 - CONFIDENCE) / 2 * 100
    t_low, t_high = np.percentile(t, [tail, 100 - tail])
    return Change(
        ratio=float(ratio - 1), low=float(ratio - t_high * se - 1), high=float(ratio - t_low * se - 1)
    )


def _p_value(base: np.ndarray, new: np.ndarray) -> float | None:
    if len(base) < 2 or len(new) < 2:
        return None
    if np.all(base == base[0]) and np.all(new == base[0]):
        return 1.0  # all equal: U is undefined, nothing differs
    return float(stats.mannwhitneyu(base, new, alternative="two-sided").pvalue)


def _outcome(change: Change, direction: Direction, margin: float) -> Outcome:
    """Worse/better than the margin in the metric's good direction, inside it, or neither."""
    sign = 1.0 if direction is Direction.HIGHER else -1.0
    low, high = sorted((sign * change.low, sign * change.high))
    if high < -margin:
        return Outcome.REGRESSED
    if low > margin:
        return Outcome.IMPROVED
    if -margin <= low and high <= margin:
        return Outcome.NO_CHANGE
    return Outcome.INCONCLUSIVE


def _more_repeats(change: Change, n_base: int, n_new: int, margin: float) -> int | None:
    """Repeats to add to each side so that an interval of today's spread would clear ±margin.

    The half-width shrinks like 1/√n; the interval is settled when it no longer
    straddles a margin boundary. None when no plausible number (up to 50) would.
    """
    half = (change.high - change.low) / 2
    if half <= 0:
        return None
    n = min(n_base, n_new)
    for extra in range(1, 51):
        shrunk = half * math.sqrt(n / (n + extra))
        low, high = change.ratio - shrunk, change.ratio + shrunk
        straddles = any(low < edge < high for edge in (-margin, margin))
        if not straddles:
            return extra
    return None


def compare_metric(
    metric: str,
    base: Sequence[float],
    new: Sequence[float],
    *,
    unit: str = "",
    direction: Direction = Direction.HIGHER,
    margin: float = DEFAULT_MARGIN,
    gate: bool = False,
    seed: int = 0,
) -> MetricComparison:
    """Compare one metric's repeat values of two releases (see the module docstring)."""
    b = np.asarray([v for v in base if v is not None and math.isfinite(v)], dtype=float)
    n = np.asarray([v for v in new if v is not None and math.isfinite(v)], dtype=float)
    change = _change(b, n, seed=seed) if len(b) and len(n) else None
    if len(b) < MIN_REPEATS or len(n) < MIN_REPEATS or change is None:
        outcome, more = Outcome.TOO_FEW, None
    else:
        outcome = _outcome(change, direction, margin)
        more = _more_repeats(change, len(b), len(n), margin) if outcome is Outcome.INCONCLUSIVE else None
    result = MetricComparison(
        metric=metric,
        unit=unit,
        direction=direction,
        margin=margin,
        gate=gate,
        base=centre(b.tolist()),
        new=centre(n.tolist()),
        change=change,
        p_value=_p_value(b, n),
        outcome=outcome,
        more_repeats=more,
    )
    return result.model_copy(update={"sentence": describe(result)})


def describe(c: MetricComparison) -> str:
    """The honest sentence, never "no regression".

    e.g. 'no difference proven at 95 % confidence: −1.2 % (−3.1 … +2.6 %), 6 + 6 repeats'."""
    repeats = f"{c.base.n} + {c.new.n} repeats"
    if c.outcome is Outcome.TOO_FEW or c.change is None:
        return (
            f"{c.metric}: no verdict with {repeats}; at least {MIN_REPEATS} a side are needed "
            "to detect a difference at 95 % confidence"
        )
    span = f"{_pct(c.change.ratio)} ({_pct(c.change.low)} … {_pct(c.change.high)})"
    if c.outcome is Outcome.NO_CHANGE:
        return f"{c.metric}: no difference proven at 95 % confidence: {span}, {repeats}"
    if c.outcome is Outcome.INCONCLUSIVE:
        more = (
            f"; about {c.more_repeats} more repeats a side would likely settle it"
            if c.more_repeats
            else "; more repeats are unlikely to settle it at this spread"
        )
        return f"{c.metric}: inconclusive: {span} straddles ±{c.margin:.0%}, {repeats}{more}"
    return f"{c.metric}: {c.outcome.value}: {span}, {repeats}"


def _pct(value: float) -> str:
    return f"{value * 100:+.1f} %".replace("-", "−")
