"""Efficiency, where scaling stops, and the recommender's rules (never extrapolating unlabelled)."""

from __future__ import annotations

import pytest

from harness.capacity.planning import (
    CapacityPoint,
    Prices,
    efficiencies,
    fit_usl,
    plan_capacity,
    point_from_bracket,
    recommend,
    scaling_stop,
    usl,
)
from harness.capacity.planning.recommend import EXTRAPOLATION_FACTOR

PRICES = Prices.of({"Standard-1X": 25 / 720, "Standard-2X": 50 / 720, "Performance-M": 250 / 720})


def points(size: str, figures: dict[int, float], *, width: float = 1.05) -> list[CapacityPoint]:
    return [
        point_from_bracket(size, n, x / ((1 + width) / 2), bracket_low=1.0, bracket_high=width)
        for n, x in figures.items()
    ]


def linear(size: str, per_dyno: float, counts: range | list[int]) -> list[CapacityPoint]:
    return points(size, {n: per_dyno * n for n in counts})


def test_bracket_point_is_centred_in_the_bracket() -> None:
    point = point_from_bracket("Standard-1X", 2, 200.0, bracket_low=40.0, bracket_high=44.0)
    assert (point.low_rps, point.high_rps) == pytest.approx((200.0, 220.0))
    assert point.rps == pytest.approx(210.0)
    unbroken = point_from_bracket("Standard-1X", 2, 300.0, bracket_low=40.0, at_least=True)
    assert unbroken.at_least and unbroken.low_rps == unbroken.high_rps == 300.0


def test_efficiency_is_relative_to_one_dyno_or_the_smallest_count() -> None:
    result = efficiencies(points("Standard-1X", {1: 100.0, 2: 190.0, 4: 300.0}))
    assert [round(e.efficiency, 3) for e in result] == [1.0, 0.95, 0.75]
    assert all(e.base_dynos == 1 for e in result)
    assert result[1].low < 0.95 < result[1].high  # the brackets' spread
    from_two = efficiencies(points("Standard-1X", {2: 200.0, 4: 400.0, 6: 540.0}))
    assert [e.base_dynos for e in from_two] == [2, 2, 2]
    assert [round(e.efficiency, 2) for e in from_two] == [1.0, 1.0, 0.9]


def test_where_scaling_stops_in_words() -> None:
    stop = scaling_stop(points("Standard-1X", {1: 100.0, 2: 195.0, 4: 380.0, 6: 391.0}))
    assert stop is not None and stop.stopped and stop.useful_dynos == 4
    assert stop.sentence.startswith("From 4 to 6 Standard-1X dynos capacity rose 3%")
    assert "shared bottleneck" in stop.sentence and "not the dynos" in stop.sentence
    fell = scaling_stop(points("Standard-1X", {1: 100.0, 2: 150.0, 3: 120.0}))
    assert fell is not None and fell.useful_dynos == 2 and "fell 20%" in fell.sentence
    grew = scaling_stop(linear("Standard-1X", 100.0, [1, 2, 3]))
    assert grew is not None and not grew.stopped and "grew with every" in grew.sentence
    assert scaling_stop(linear("Standard-1X", 100.0, [2])) is None


def test_recommends_the_cheapest_formation_whose_lower_bound_meets_the_peak() -> None:
    one_x = linear("Standard-1X", 100.0, range(1, 7))
    two_x = linear("Standard-2X", 150.0, range(1, 7))  # twice the price, 1.5× the capacity
    fits = {"Standard-1X": fit_usl(one_x, resamples=60), "Standard-2X": fit_usl(two_x, resamples=60)}
    advice = recommend(
        {"Standard-1X": one_x, "Standard-2X": two_x}, fits, PRICES, peak_rps=240.0, headroom=1.5
    )
    assert advice.required_rps == pytest.approx(360.0)
    assert advice.choice is not None
    assert advice.choice.lower_rps >= 360.0
    cheaper = [c for c in advice.candidates if (c.hourly_usd or 0) < (advice.choice.hourly_usd or 0)]
    assert cheaper and not any(c.meets for c in cheaper)
    assert (advice.choice.size, advice.choice.dynos) == ("Standard-1X", 4)
    assert advice.smaller is not None and advice.smaller.dynos == 3 and not advice.smaller.meets
    assert advice.sentence == (
        "4 × Standard-1X holds the expected 240 req/s with 1.5× headroom "
        f"(lower bound {advice.choice.lower_rps:,.0f} req/s) for $100/month; 3 dynos would not "
        f"(lower bound {advice.smaller.lower_rps:,.0f} req/s)."
    )
    assert any("one dyno a minute" in note for note in advice.notes)


def test_beyond_the_largest_measured_count_is_labelled_extrapolated() -> None:
    measured = linear("Standard-1X", 100.0, [1, 2, 3, 4])
    advice = recommend(
        {"Standard-1X": measured},
        {"Standard-1X": fit_usl(measured, resamples=60)},
        PRICES,
        peak_rps=500.0,
        headroom=1.2,
    )
    assert advice.choice is not None and advice.choice.dynos > 4
    assert advice.choice.extrapolated and not advice.choice.measured
    assert "(extrapolated)" in advice.sentence
    assert any("extrapolated" in note and "largest" in note for note in advice.notes)
    # every candidate past the measurements says so, and none goes past the extrapolation limit
    assert all(c.extrapolated == (c.dynos > 4) for c in advice.candidates)
    assert max(c.dynos for c in advice.candidates) <= EXTRAPOLATION_FACTOR * 4


def test_without_a_fit_only_measured_counts_are_candidates() -> None:
    measured = linear("Standard-1X", 100.0, [1, 2, 4])
    advice = recommend({"Standard-1X": measured}, {"Standard-1X": None}, PRICES, peak_rps=250.0, headroom=1.2)
    assert [c.dynos for c in advice.candidates] == [1, 2, 4]
    assert all(c.basis == "measured" and not c.extrapolated for c in advice.candidates)
    assert advice.choice is not None and advice.choice.dynos == 4
    too_much = recommend(
        {"Standard-1X": measured}, {"Standard-1X": None}, PRICES, peak_rps=900.0, headroom=1.0
    )
    assert too_much.choice is None
    assert too_much.sentence.startswith("No formation measured holds the expected 900 req/s")


def test_never_beyond_the_peak_nor_where_dynos_stop_helping() -> None:
    retrograde = [
        point_from_bracket(
            "Standard-1X", n, float(usl(n, 100.0, 0.1, 0.04)), bracket_low=1.0, bracket_high=1.04
        )
        for n in range(1, 9)
    ]
    fit = fit_usl(retrograde, resamples=60)
    assert fit.peak_dynos is not None and fit.peak_dynos < 5
    advice = recommend(
        {"Standard-1X": retrograde}, {"Standard-1X": fit}, PRICES, peak_rps=330.0, headroom=1.0
    )
    assert max(c.dynos for c in advice.candidates) <= fit.peak_dynos
    assert advice.choice is None  # the peak's capacity is below 330: no dyno count holds it
    assert "do not help" in advice.sentence


def test_a_shared_bottleneck_caps_the_advice_at_the_dynos_that_help() -> None:
    capped = points("Standard-1X", {1: 100.0, 2: 198.0, 3: 204.0, 4: 206.0})
    plan = plan_capacity(capped, PRICES, peak_rps=160.0, headroom=1.25, resamples=60)
    advice = plan.recommendation
    assert max(c.dynos for c in advice.candidates) <= 2
    assert plan.sizes[0].stop is not None and plan.sizes[0].stop.useful_dynos == 2
    assert advice.choice is None or advice.choice.dynos <= 2
    more = plan_capacity(capped, PRICES, peak_rps=260.0, headroom=1.25, resamples=60).recommendation
    assert more.choice is None and "do not help: from 2 to 3 capacity rose 3%" in more.sentence


def test_only_measured_sizes_and_single_dyno_sizes_stay_single() -> None:
    basic = points("Basic", {1: 40.0})
    advice = recommend(
        {"Basic": basic}, {"Basic": None}, Prices.of({"Basic": 7 / 720}), peak_rps=30.0, headroom=1.2
    )
    assert {c.size for c in advice.candidates} == {"Basic"}
    assert [c.dynos for c in advice.candidates] == [1]
    one_x = linear("Standard-1X", 100.0, [1, 2, 3, 4])
    capped = recommend(
        {"Standard-1X": one_x},
        {"Standard-1X": fit_usl(one_x, resamples=30)},
        PRICES,
        peak_rps=100.0,
        headroom=1.0,
        max_dynos=3,
    )
    assert max(c.dynos for c in capped.candidates) == 3


def test_a_peak_in_users_gets_no_recommendation() -> None:
    measured = linear("Standard-1X", 100.0, [1, 2])
    advice = recommend({"Standard-1X": measured}, {"Standard-1X": None}, PRICES, peak_rps=None, headroom=1.5)
    assert advice.choice is None and "given in users" in advice.sentence


def test_plan_words_the_fit_by_what_the_data_carries() -> None:
    three = plan_capacity(linear("Standard-1X", 100.0, [1, 2, 3]), PRICES, peak_rps=100.0, headroom=1.0)
    assert three.sizes[0].fit is None and "efficiency only" in three.sizes[0].fit_note
    five = plan_capacity(
        linear("Standard-1X", 100.0, range(1, 6)), PRICES, peak_rps=100.0, headroom=1.0, resamples=30
    )
    assert five.sizes[0].fit is not None and five.sizes[0].fit_note.startswith("Rough fit")
    six = plan_capacity(
        linear("Standard-1X", 100.0, range(1, 7)), PRICES, peak_rps=100.0, headroom=1.0, resamples=30
    )
    assert six.sizes[0].fit_note.startswith("Fitted over 6")
