"""Gunther's Universal Scalability Law, fitted honestly to breaking points of one dyno size.

    X(N) = γN / (1 + α(N−1) + βN(N−1))

γ is one dyno's capacity (req/s), α contention (the serial share: capacity
approaches γ/α), β coherency (crosstalk: past the peak N* = √((1−α)/β) more
dynos make it slower). The fit is bounded non-linear least squares
(`scipy.optimize.curve_fit`, α, β ∈ [0, 1], γ ≥ 0), as the R `usl` package
fits it; points are weighted by their interval. What the data can carry sets
the label, as `usl` and `usl4j` do: fewer than 4 counts — no fit (3 points
leave no degree of freedom for 3 parameters); 4–5 — "rough"; 6 or more —
"fitted". Intervals come from refitting on resamples: every point is redrawn
from its own uncertainty (a bootstrap of its repeats, or uniformly inside its
bracket) plus a sign-flipped residual of the fit (a wild bootstrap, so misfit
widens the band too). A fit that the *unbounded* solver puts clearly below
zero means the points rise faster than linearly, which no shared system
does: bad measurements (a warming cache, a generator limit at small N), and
the fit says so instead of hiding it. Pure logic; deterministic (seeded).
"""

from __future__ import annotations

import enum
import math
import warnings
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.optimize import OptimizeWarning, curve_fit

from harness.capacity.planning.points import CapacityPoint, Uncertainty

__all__ = [
    "DEFAULT_RESAMPLES",
    "MIN_FIT_COUNTS",
    "MIN_FULL_FIT_COUNTS",
    "FitQuality",
    "NotEnoughPoints",
    "UslFit",
    "fit_quality",
    "fit_usl",
    "usl",
]

MIN_FIT_COUNTS = 4  # below: no fit, efficiency only
MIN_FULL_FIT_COUNTS = 6  # from here on the fit is not "rough" (usl4j's MIN_MEASUREMENTS, R usl's warning)
DEFAULT_RESAMPLES = 400  # refits for the intervals: ~1 s per size
CONFIDENCE = 0.95
# The unbounded fit must predict at least this much more than linear at the largest count to be reported.
SUPERLINEAR_MARGIN = 0.05
# A peak beyond this many dynos is no peak to plan around (β is indistinguishable from zero).
MAX_PEAK_DYNOS = 1000.0


class NotEnoughPoints(ValueError):
    """Fewer distinct dyno counts than a three-parameter fit can carry."""


class FitQuality(enum.StrEnum):
    """What a fit can be trusted for, by the number of distinct counts measured."""

    NONE = "none"  # fewer than 4 counts: no model, efficiency only
    ROUGH = "rough"  # 4–5 counts: fitted, with wide uncertainty
    FITTED = "fitted"  # 6 or more counts


def fit_quality(counts: int) -> FitQuality:
    """The label for a fit over `counts` distinct dyno counts."""
    if counts < MIN_FIT_COUNTS:
        return FitQuality.NONE
    return FitQuality.ROUGH if counts < MIN_FULL_FIT_COUNTS else FitQuality.FITTED


def usl(n: np.ndarray | float, gamma: float, alpha: float, beta: float) -> np.ndarray | float:
    """Throughput (req/s) at `n` dynos."""
    return gamma * n / (1.0 + alpha * (n - 1.0) + beta * n * (n - 1.0))


class UslFit(BaseModel):
    """A USL fit for one dyno size, with 95 % intervals from refitting on resamples."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    size: str
    quality: FitQuality
    counts: int  # distinct dyno counts measured
    max_measured: int  # the largest count measured: predictions beyond it are extrapolations
    gamma: float  # req/s of one dyno
    alpha: float
    beta: float
    gamma_ci: tuple[float, float]
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    peak_dynos: float | None  # N*; None when β = 0 (no retrograde: capacity tends to γ/α)
    peak_dynos_ci: tuple[float, float] | None
    warning: str | None = None  # the unbounded fit's verdict on the measurements
    resamples: int
    samples: list[tuple[float, float, float]] = Field(default_factory=list, exclude=True, repr=False)

    def predict(self, n: float) -> float:
        """Predicted capacity (req/s) at `n` dynos."""
        return float(usl(float(n), self.gamma, self.alpha, self.beta))

    def interval(self, n: float) -> tuple[float, float]:
        """95 % interval of the predicted capacity at `n` dynos (from the resampled fits)."""
        if not self.samples:
            value = self.predict(n)
            return value, value
        values = np.array([usl(float(n), *s) for s in self.samples])
        tail = (1.0 - CONFIDENCE) / 2 * 100
        low, high = np.percentile(values, [tail, 100 - tail])
        return float(low), float(high)

    def lower(self, n: float) -> float:
        """The lower end of the 95 % interval at `n`: what `n` dynos hold with confidence."""
        return self.interval(n)[0]

    @property
    def ceiling_rps(self) -> float | None:
        """The Amdahl ceiling γ/α (no retrograde), or the capacity at the peak N*; None when linear."""
        if self.peak_dynos is not None:
            return self.predict(self.peak_dynos)
        return self.gamma / self.alpha if self.alpha > 0 else None

    def describe(self) -> str:
        """One line: the parameters and what they mean."""
        label = {FitQuality.ROUGH: "rough fit", FitQuality.FITTED: "fit"}.get(self.quality, "no fit")
        text = (
            f"USL {label} over {self.counts} {self.size} formations: one dyno {self.gamma:,.0f} req/s "
            f"({self.gamma_ci[0]:,.0f}–{self.gamma_ci[1]:,.0f}), contention α {self.alpha:.3f} "
            f"({self.alpha_ci[0]:.3f}–{self.alpha_ci[1]:.3f}), coherency β {self.beta:.4f} "
            f"({self.beta_ci[0]:.4f}–{self.beta_ci[1]:.4f})"
        )
        if self.peak_dynos is not None:
            text += f"; capacity peaks at N* ≈ {self.peak_dynos:.1f} dynos"
        return text + "."


def _jacobian(n: np.ndarray, gamma: float, alpha: float, beta: float) -> np.ndarray:
    """∂X/∂(γ, α, β): analytic, because finite differences stall where α or β start at zero."""
    denominator = 1.0 + alpha * (n - 1.0) + beta * n * (n - 1.0)
    slope = -gamma * n / denominator**2
    return np.column_stack([n / denominator, slope * (n - 1.0), slope * n * (n - 1.0)])


def _peak(alpha: float, beta: float) -> float | None:
    """N* = √((1−α)/β); None when β is zero or the peak lies beyond any real formation."""
    if beta <= 0:
        return None
    peak = math.sqrt((1.0 - alpha) / beta)
    return peak if peak <= MAX_PEAK_DYNOS else None


def _sigma(points: Sequence[CapacityPoint]) -> np.ndarray:
    """Per-point weights: half the interval, never below 1 % of the value (a bare figure is not exact)."""
    return np.array([max((p.high_rps - p.low_rps) / 2, 0.01 * p.rps, 1e-9) for p in points])


def _fit(
    n: np.ndarray, x: np.ndarray, sigma: np.ndarray, starts: Sequence[tuple[float, float, float]]
) -> tuple[np.ndarray, float]:
    """The bounded fit from the best of several starts: (γ, α, β) and its weighted SSR."""
    best: tuple[np.ndarray, float] | None = None
    for start in starts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                params, _ = curve_fit(
                    usl,
                    n,
                    x,
                    p0=start,
                    sigma=sigma,
                    bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, 1.0]),
                    method="trf",
                    jac=_jacobian,
                    max_nfev=2000,
                )
        except (RuntimeError, ValueError):
            continue
        cost = float(np.sum(((usl(n, *params) - x) / sigma) ** 2))
        if best is None or cost < best[1]:
            best = (params, cost)
    if best is None:
        raise RuntimeError("the USL fit did not converge from any start")
    return best


def _starts(n: np.ndarray, x: np.ndarray) -> list[tuple[float, float, float]]:
    """R usl's start (γ₀ = max X/N, α₀ = 0.01, β₀ = 0.0001), plus two that begin near a bottleneck."""
    gamma0 = float(np.max(x / n))
    return [(gamma0, 0.01, 1e-4), (gamma0, 0.3, 1e-3), (gamma0, 0.05, 0.05)]


def _unbounded_warning(
    n: np.ndarray, x: np.ndarray, sigma: np.ndarray, start: np.ndarray, size: str
) -> str | None:
    """Refit without bounds; a clearly negative α or β (beyond twice its standard error, and worth more
    than SUPERLINEAR_MARGIN at the largest count) means the points are inconsistent with any real system."""
    fits = []
    for p0 in (tuple(start), *_starts(n, x)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", OptimizeWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                params, cov = curve_fit(
                    usl, n, x, p0=p0, sigma=sigma, method="lm", jac=_jacobian, maxfev=5000
                )
        except (RuntimeError, ValueError):
            continue
        fits.append((float(np.sum(((usl(n, *params) - x) / sigma) ** 2)), params, cov))
    if not fits:
        return None
    _, params, cov = min(fits, key=lambda fit: fit[0])
    _, alpha, beta = (float(v) for v in params)
    errors = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.zeros(3)
    negative = [
        f"{name} = {value:.3g}"
        for name, value, error in (("α", alpha, errors[1]), ("β", beta, errors[2]))
        if value < 0 and value + 2 * error < 0
    ]
    top = float(np.max(n))
    denominator = 1.0 + alpha * (top - 1) + beta * top * (top - 1)
    if not negative or denominator > 1.0 - SUPERLINEAR_MARGIN:
        return None
    return (
        f"Left unbounded, the fit puts {' and '.join(negative)} below zero: the {size} points rise faster "
        "than linearly with dynos, which no shared system does. The measurements are suspect (a cold "
        "cache or a load generator at its limit at small counts, a noisy neighbour at one count); the "
        "bounded fit shown treats scaling as at best linear."
    )


def _redraw(points: Sequence[CapacityPoint], rng: np.random.Generator) -> np.ndarray:
    """Each point redrawn from its own uncertainty: a bootstrap of its repeats, or uniform in its bracket."""
    values = []
    for p in points:
        if p.source is Uncertainty.REPEATS and p.repeats:
            values.append(float(np.median(rng.choice(p.repeats, size=len(p.repeats)))))
        else:
            values.append(float(rng.uniform(p.low_rps, p.high_rps)) if p.high_rps > p.low_rps else p.rps)
    return np.array(values)


def _resample(
    points: Sequence[CapacityPoint],
    n: np.ndarray,
    fitted: np.ndarray,
    sigma: np.ndarray,
    *,
    resamples: int,
    seed: int,
) -> list[tuple[float, float, float]]:
    """Refit on `resamples` redrawn data sets; fits that fail to converge are dropped."""
    rng = np.random.default_rng(seed)
    residuals = np.array([p.rps for p in points]) - usl(n, *fitted)
    inflate = math.sqrt(len(points) / max(1, len(points) - 3))
    start = (max(float(fitted[0]), 1e-9), float(fitted[1]), float(fitted[2]))
    samples = []
    for _ in range(resamples):
        signs = rng.choice([-1.0, 1.0], size=len(points))
        x = np.clip(_redraw(points, rng) + signs * residuals * inflate, 1e-9, None)
        try:
            params, _ = _fit(n, x, sigma, [start])
        except RuntimeError:
            continue
        samples.append((float(params[0]), float(params[1]), float(params[2])))
    return samples


def _ci(values: Sequence[float]) -> tuple[float, float]:
    """Central 95 % interval; no interpolation, so an infinite N* (β = 0) stays infinite, not NaN."""
    tail = (1.0 - CONFIDENCE) / 2
    low, high = np.quantile(np.array(values), [tail, 1 - tail], method="inverted_cdf")
    return float(low), float(high)


def fit_usl(points: Sequence[CapacityPoint], *, resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> UslFit:
    """Fit the USL to the points of one dyno size; NotEnoughPoints below MIN_FIT_COUNTS distinct counts."""
    sizes = {p.size for p in points}
    if len(sizes) != 1:
        raise ValueError(f"a USL fit is for one dyno size; got {', '.join(sorted(sizes)) or 'none'}")
    size = sizes.pop()
    counts = len({p.dynos for p in points})
    if counts < MIN_FIT_COUNTS:
        raise NotEnoughPoints(
            f"{counts} {size} formation(s) measured: a USL fit needs at least {MIN_FIT_COUNTS} different "
            "dyno counts (3 parameters); showing efficiency only."
        )
    ordered = sorted(points, key=lambda p: p.dynos)
    scale = max(p.rps for p in ordered) or 1.0  # fit in units of the largest figure: better conditioned
    n = np.array([float(p.dynos) for p in ordered])
    x = np.array([p.rps for p in ordered]) / scale
    sigma = _sigma(ordered) / scale
    params, _ = _fit(n, x, sigma, _starts(n, x))
    warning = _unbounded_warning(n, x, sigma, params, size)
    scaled = [p.model_copy(update=_scaled(p, scale)) for p in ordered]
    samples = [
        (g * scale, a, b) for g, a, b in _resample(scaled, n, params, sigma, resamples=resamples, seed=seed)
    ]
    gamma, alpha, beta = float(params[0]) * scale, float(params[1]), float(params[2])
    if len(samples) < resamples // 2:  # too few refits converged to say anything about the spread
        samples = []
    peaks = [_peak(a, b) for _, a, b in samples]
    return UslFit(
        size=size,
        quality=fit_quality(counts),
        counts=counts,
        max_measured=int(n.max()),
        gamma=gamma,
        alpha=alpha,
        beta=beta,
        gamma_ci=_ci([s[0] for s in samples]) if samples else (gamma, gamma),
        alpha_ci=_ci([s[1] for s in samples]) if samples else (alpha, alpha),
        beta_ci=_ci([s[2] for s in samples]) if samples else (beta, beta),
        peak_dynos=_peak(alpha, beta),
        peak_dynos_ci=_ci([p if p is not None else math.inf for p in peaks]) if samples else None,
        warning=warning,
        resamples=len(samples),
        samples=samples,
    )


def _scaled(point: CapacityPoint, scale: float) -> dict[str, object]:
    return {
        "rps": point.rps / scale,
        "low_rps": point.low_rps / scale,
        "high_rps": point.high_rps / scale,
        "repeats": tuple(v / scale for v in point.repeats),
    }
