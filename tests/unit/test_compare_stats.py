"""The comparison statistics: intervals, the four verdicts, and the withheld one."""

from __future__ import annotations

import numpy as np
import pytest

from harness.capacity.compare import Direction, Outcome, centre, compare_metric


def _noisy(mean: float, spread: float, n: int, seed: int) -> list[float]:
    return list(np.random.default_rng(seed).normal(mean, spread, n))


def test_the_median_interval_comes_from_order_statistics() -> None:
    c = centre([float(v) for v in range(1, 11)])
    assert c.median == 5.5
    assert (c.low, c.high) == (2.0, 9.0)  # ranks 1 and 8 (0-based) cover ≥ 95 % for n = 10
    assert centre([1.0, 2.0, 3.0]).low is None  # too few for a 95 % interval


def test_a_fifteen_percent_lower_capacity_is_a_regression_with_the_change_measured() -> None:
    result = compare_metric("breaking point", _noisy(1000, 20, 6, 1), _noisy(850, 20, 6, 2), unit="req/s")
    assert result.outcome is Outcome.REGRESSED
    assert result.change is not None and -0.20 < result.change.ratio < -0.10
    assert result.change.low < result.change.ratio < result.change.high
    assert result.p_value is not None and result.p_value < 0.05
    assert "regressed" in result.sentence and "6 + 6 repeats" in result.sentence


def test_latency_is_better_lower() -> None:
    slower = compare_metric("p95", _noisy(100, 2, 6, 3), _noisy(130, 2, 6, 4), direction=Direction.LOWER)
    faster = compare_metric("p95", _noisy(130, 2, 6, 5), _noisy(100, 2, 6, 6), direction=Direction.LOWER)
    assert (slower.outcome, faster.outcome) == (Outcome.REGRESSED, Outcome.IMPROVED)


def test_the_same_release_is_rarely_called_different() -> None:
    outcomes = [
        compare_metric("bp", _noisy(1000, 30, 6, 10 + i), _noisy(1000, 30, 6, 100 + i), seed=i).outcome
        for i in range(20)
    ]
    wrong = sum(o in {Outcome.REGRESSED, Outcome.IMPROVED} for o in outcomes)
    assert wrong <= 2, outcomes
    assert Outcome.NO_CHANGE in outcomes
    same = next(
        compare_metric("bp", _noisy(1000, 30, 6, 10 + i), _noisy(1000, 30, 6, 100 + i), seed=i)
        for i in range(20)
        if outcomes[i] is Outcome.NO_CHANGE
    )
    assert same.sentence.startswith("bp: no difference proven at 95 % confidence")


def test_a_noisy_small_difference_is_inconclusive_and_says_how_many_more_repeats() -> None:
    result = compare_metric("bp", _noisy(1000, 60, 4, 7), _noisy(960, 60, 4, 8))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "inconclusive" in result.sentence and "straddles" in result.sentence


@pytest.mark.parametrize("n", [1, 2, 3])
def test_fewer_than_four_repeats_a_side_withhold_the_verdict(n: int) -> None:
    result = compare_metric("bp", _noisy(1000, 5, n, 1), _noisy(500, 5, n, 2))
    assert result.outcome is Outcome.TOO_FEW
    assert "no verdict" in result.sentence and "at least 4" in result.sentence
