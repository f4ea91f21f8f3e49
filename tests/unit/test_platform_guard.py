"""Safety guards: protected and unnamed apps, dyno and cost ceilings, load targets, Heroku's rate cap."""

from __future__ import annotations

import pytest

from harness.errors import GuardError
from harness.platform.guard import (
    BUILTIN_PRICES,
    LOAD_TEST_GUIDELINES_SOURCE,
    check_app_allowed,
    check_formation_limits,
    check_load_target,
    check_offered_rate,
    estimate_hourly_cost,
    is_performance_tier,
    price_table,
)
from harness.platform.models import DynoSize, Formation, ProcessFormation


def formation(**types: tuple[int, str]) -> Formation:
    return Formation.of(ProcessFormation(type=t, quantity=q, size=s) for t, (q, s) in types.items())


def test_protected_app_is_refused_even_when_named() -> None:
    with pytest.raises(GuardError, match="protected"):
        check_app_allowed("shop", targets={"shop"}, protected={"shop"})


def test_unnamed_app_is_refused() -> None:
    with pytest.raises(GuardError, match="not a named target"):
        check_app_allowed("shop", targets={"shop-staging"}, protected=set())
    check_app_allowed("shop-staging", targets={"shop-staging"}, protected={"shop"})


def test_builtin_prices_per_hour() -> None:
    assert BUILTIN_PRICES["standard-1x"] == pytest.approx(25 / 720)
    assert BUILTIN_PRICES["performance-l"] == pytest.approx(500 / 720)


def test_live_prices_override_the_table() -> None:
    table = price_table([DynoSize(name="Standard-2X", cost_cents=7200, cost_unit="month")])
    assert table["standard-2x"] == pytest.approx(0.10)
    assert table["standard-1x"] == BUILTIN_PRICES["standard-1x"]


def test_cost_estimate_and_unknown_sizes() -> None:
    cost = estimate_hourly_cost(formation(web=(4, "standard-2x"), worker=(1, "Standard-1X")), BUILTIN_PRICES)
    assert cost == pytest.approx((4 * 50 + 25) / 720)
    with pytest.raises(GuardError, match="no price known"):
        estimate_hourly_cost(formation(web=(1, "Huge-9X")), BUILTIN_PRICES)


def test_dyno_ceiling_needs_confirmation() -> None:
    big = formation(web=(12, "Standard-1X"))
    with pytest.raises(GuardError, match="max_dynos_per_type"):
        check_formation_limits(big, max_dynos_per_type=10, max_cost_per_hour_usd=100, prices=BUILTIN_PRICES)
    check_formation_limits(
        big, max_dynos_per_type=10, max_cost_per_hour_usd=100, prices=BUILTIN_PRICES, confirmed=True
    )


def test_cost_ceiling_needs_confirmation() -> None:
    pricey = formation(web=(8, "Performance-L"))
    with pytest.raises(GuardError, match=r"\$5\.56/hour.*--yes"):
        check_formation_limits(pricey, max_dynos_per_type=10, max_cost_per_hour_usd=5, prices=BUILTIN_PRICES)
    cost = check_formation_limits(
        pricey, max_dynos_per_type=10, max_cost_per_hour_usd=5, prices=BUILTIN_PRICES, confirmed=True
    )
    assert cost == pytest.approx(8 * 500 / 720)


def test_load_only_to_the_apps_own_host() -> None:
    web_url = "https://shop-staging-1234567890ab.herokuapp.com/"
    check_load_target("https://shop-staging-1234567890ab.herokuapp.com/cart", web_url=web_url, emulator=False)
    with pytest.raises(GuardError, match="not the app's own URL"):
        check_load_target("https://shop.herokuapp.com/", web_url=web_url, emulator=False)
    with pytest.raises(GuardError):
        check_load_target("http://127.0.0.1:8000/", web_url=web_url, emulator=False)


def test_emulator_may_load_loopback_only() -> None:
    check_load_target("http://127.0.0.1:43210/", web_url="http://127.0.0.1:43211/", emulator=True)
    check_load_target("http://[::1]:80/", web_url=None, emulator=True)
    with pytest.raises(GuardError):
        check_load_target("http://example.com/", web_url="http://127.0.0.1:1/", emulator=True)


def test_heroku_rate_cap_states_the_cap_and_its_source() -> None:
    standard = formation(web=(10, "Standard-2X"))
    check_offered_rate(10_000, emulator=False, approval_ref=None, formation=standard)
    with pytest.raises(GuardError) as info:
        check_offered_rate(12_000, emulator=False, approval_ref=None, formation=standard)
    assert "10,000 req/s" in str(info.value)
    assert LOAD_TEST_GUIDELINES_SOURCE in str(info.value)
    with pytest.raises(GuardError, match="Performance-tier"):
        check_offered_rate(12_000, emulator=False, approval_ref="CASE-123", formation=standard)


def test_rate_cap_lifts_with_approval_and_performance_dynos_and_on_the_emulator() -> None:
    perf = formation(web=(4, "performance-l"))
    assert is_performance_tier(perf)
    check_offered_rate(50_000, emulator=False, approval_ref="CASE-123", formation=perf)
    check_offered_rate(50_000, emulator=True, approval_ref=None, formation=formation(web=(1, "Basic")))
