"""The USL fit: recovers known parameters from noisy points, refuses what the data cannot carry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.capacity.planning import (
    CapacityPoint,
    FitQuality,
    NotEnoughPoints,
    fit_quality,
    fit_usl,
    point_from_bracket,
    point_from_repeats,
    usl,
)

SIZE = "Standard-1X"


def synthetic(
    gamma: float, alpha: float, beta: float, counts: list[int], *, noise: float, seed: int
) -> list[CapacityPoint]:
    """Breaking points the way the search reports them: a 5 % bracket around a noisy true capacity."""
    rng = np.random.default_rng(seed)
    points = []
    for n in counts:
        true = float(usl(n, gamma, alpha, beta)) * (1 + rng.normal(0, noise))
        points.append(point_from_bracket(SIZE, n, true / 1.025, bracket_low=100, bracket_high=105))
    return points


@pytest.mark.parametrize(
    ("alpha", "beta"),
    [(0.05, 0.002), (0.3, 0.01), (0.0, 0.0), (0.1, 0.0)],
)
def test_fit_recovers_known_parameters_from_noisy_points(alpha: float, beta: float) -> None:
    points = synthetic(120.0, alpha, beta, [1, 2, 3, 4, 6, 8, 10, 12], noise=0.02, seed=7)
    fit = fit_usl(points, resamples=200)
    assert fit.quality is FitQuality.FITTED
    assert fit.gamma == pytest.approx(120.0, rel=0.05)
    assert fit.alpha == pytest.approx(alpha, abs=0.03)
    assert fit.beta == pytest.approx(beta, abs=0.003)
    # the intervals from refitting on resamples cover the truth
    assert fit.gamma_ci[0] <= 120.0 * 1.02 and fit.gamma_ci[1] >= 120.0 * 0.98
    assert fit.alpha_ci[0] - 0.01 <= alpha <= fit.alpha_ci[1] + 0.01
    assert fit.beta_ci[0] - 0.001 <= beta <= fit.beta_ci[1] + 0.001
    low, high = fit.interval(12)
    assert low <= usl(12, 120.0, alpha, beta) * 1.03 and high >= usl(12, 120.0, alpha, beta) * 0.97
    assert fit.warning is None


def test_peak_is_where_the_curve_turns_down() -> None:
    points = synthetic(100.0, 0.1, 0.02, [1, 2, 3, 4, 5, 6, 8, 10], noise=0.01, seed=3)
    fit = fit_usl(points, resamples=200)
    true_peak = math.sqrt((1 - 0.1) / 0.02)
    assert fit.peak_dynos == pytest.approx(true_peak, rel=0.15)
    assert fit.peak_dynos_ci is not None and fit.peak_dynos_ci[0] <= fit.peak_dynos <= fit.peak_dynos_ci[1]
    assert fit.predict(fit.peak_dynos) >= fit.predict(fit.peak_dynos + 2)


def test_linear_points_have_no_peak() -> None:
    fit = fit_usl(synthetic(100.0, 0.0, 0.0, [1, 2, 3, 4, 5, 6], noise=0.0, seed=1), resamples=100)
    assert fit.peak_dynos is None
    assert fit.alpha == pytest.approx(0.0, abs=1e-3) and fit.beta == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize("counts", [[1], [1, 2], [1, 2, 4], [1, 2, 2, 4, 4]])
def test_refuses_to_fit_below_four_counts(counts: list[int]) -> None:
    points = synthetic(100.0, 0.05, 0.001, counts, noise=0.0, seed=1)
    with pytest.raises(NotEnoughPoints, match="at least 4 different dyno counts"):
        fit_usl(points)


def test_labels_follow_what_the_data_can_carry() -> None:
    assert [fit_quality(n) for n in (0, 3, 4, 5, 6, 9)] == [
        FitQuality.NONE,
        FitQuality.NONE,
        FitQuality.ROUGH,
        FitQuality.ROUGH,
        FitQuality.FITTED,
        FitQuality.FITTED,
    ]
    four = fit_usl(synthetic(100.0, 0.05, 0.001, [1, 2, 3, 4], noise=0.01, seed=2), resamples=50)
    assert four.quality is FitQuality.ROUGH and "rough fit" in four.describe()


def test_never_mixes_dyno_sizes() -> None:
    points = synthetic(100.0, 0.0, 0.0, [1, 2, 3], noise=0.0, seed=1)
    other = point_from_bracket("Standard-2X", 4, 800.0)
    with pytest.raises(ValueError, match="one dyno size"):
        fit_usl([*points, other])


def test_superlinear_points_are_called_bad_measurements() -> None:
    # Each dyno adds more than the one before: no real system does that; the unbounded fit finds α < 0.
    points = [
        point_from_bracket(SIZE, n, x, bracket_low=100, bracket_high=102)
        for n, x in [(1, 100.0), (2, 230.0), (3, 370.0), (4, 520.0)]
    ]
    fit = fit_usl(points, resamples=50)
    assert fit.warning is not None and "below zero" in fit.warning
    assert fit.alpha >= 0 and fit.beta >= 0  # the bounded fit itself stays physical


def test_noise_around_linear_is_not_called_superlinear() -> None:
    for seed in range(5):
        fit = fit_usl(synthetic(100.0, 0.0, 0.0, [1, 2, 3, 4], noise=0.03, seed=seed), resamples=20)
        assert fit.warning is None, seed


def test_repeats_give_the_interval_and_the_fit_uses_them() -> None:
    rng = np.random.default_rng(5)
    points = [
        point_from_repeats(
            SIZE, n, [float(usl(n, 50.0, 0.05, 0.0)) * (1 + rng.normal(0, 0.02)) for _ in range(6)]
        )
        for n in (1, 2, 3, 4, 5, 6)
    ]
    assert all(p.low_rps < p.rps < p.high_rps for p in points)
    fit = fit_usl(points, resamples=100)
    assert fit.gamma == pytest.approx(50.0, rel=0.05)
    assert fit.alpha == pytest.approx(0.05, abs=0.03)


def test_fits_are_reproducible() -> None:
    points = synthetic(100.0, 0.05, 0.002, [1, 2, 3, 4, 6], noise=0.02, seed=9)
    first, second = fit_usl(points, resamples=60), fit_usl(points, resamples=60)
    assert first.interval(6) == second.interval(6)
    assert first.model_dump() == second.model_dump()
    assert "samples" not in first.model_dump()  # the resampled fits stay out of summaries
