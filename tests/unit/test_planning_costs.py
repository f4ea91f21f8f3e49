"""Cost arithmetic: formations per hour and month, requests per million, the test's own dyno-hours."""

from __future__ import annotations

import pytest

from harness.capacity.planning import (
    HOURS_PER_MONTH,
    Prices,
    PriceSource,
    cost_per_million_requests,
    formation_cost,
    plan_capacity,
    point_from_bracket,
    run_cost,
)

TABLE = {"Standard-1X": 25 / 720, "Standard-2X": 50 / 720, "Performance-M": 250 / 720}


def test_formation_cost_per_hour_and_month() -> None:
    prices = Prices.of(TABLE)
    cost = formation_cost("standard-2x", 4, prices)  # size names match case-insensitively
    assert cost.hourly_usd == pytest.approx(4 * 50 / 720)
    assert cost.monthly_usd == pytest.approx(200.0)
    assert HOURS_PER_MONTH == 720
    unknown = formation_cost("Mystery-9X", 2, prices)
    assert unknown.hourly_usd is None and unknown.monthly_usd is None


def test_cost_per_million_requests() -> None:
    # $1/hour serving 100 req/s: 360,000 requests an hour, so $2.78 per million
    assert cost_per_million_requests(1.0, 100.0) == pytest.approx(1e6 / 360_000)
    assert cost_per_million_requests(None, 100.0) is None
    assert cost_per_million_requests(1.0, 0.0) is None


def test_the_cheapest_way_to_serve_requests_shows_per_formation() -> None:
    points = [
        point_from_bracket("Standard-1X", 1, 100.0),
        point_from_bracket("Standard-1X", 2, 200.0),
        point_from_bracket("Standard-1X", 4, 300.0),
    ]
    plan = plan_capacity(points, Prices.of(TABLE), peak_rps=100.0, headroom=1.0)
    per_million = [f.usd_per_million for f in plan.sizes[0].formations]
    assert per_million[0] == pytest.approx(per_million[1])  # linear: the same price per request
    assert per_million[2] == pytest.approx(per_million[0] * 4 / 3)  # 4 dynos, 3× the capacity


def test_run_cost_adds_dyno_hours_of_every_formation() -> None:
    cost = run_cost([("Standard-1X", 1, 1800.0), ("Standard-1X", 4, 900.0)], Prices.of(TABLE))
    assert cost.dyno_hours == pytest.approx(0.5 + 1.0)
    assert cost.usd == pytest.approx(1.5 * 25 / 720)
    assert cost.describe() == f"1.50 dyno-hours, about ${1.5 * 25 / 720:.2f}"
    partial = run_cost([("Standard-1X", 1, 3600.0), ("Mystery-9X", 1, 3600.0)], Prices.of(TABLE))
    assert partial.dyno_hours == pytest.approx(2.0) and partial.usd is None
    assert "price unknown" in partial.describe()


def test_prices_say_where_they_came_from() -> None:
    builtin = Prices.of(TABLE, as_of="2026-08-04")
    assert builtin.source is PriceSource.BUILTIN and "2026-08-04" in builtin.describe()
    live = Prices.of(TABLE, live=list(TABLE))
    assert live.source is PriceSource.LIVE and "GET /dyno-sizes" in live.describe()
    mixed = Prices.of(TABLE, live=["Standard-1X"], as_of="2026-08-04")
    assert mixed.source is PriceSource.MIXED and "else" in mixed.describe()
