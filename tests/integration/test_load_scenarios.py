"""Real Locust against the emulator's demo shop: load, lowered capacity, abort, spike, scenario isolation.

The demo app's capacity model (one Standard-1X dyno = 4 slots) puts the shop mix
at ~145 req/s: 30 req/s is a fifth of it. Each test holds its load for seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import locust
import pytest
from click.testing import CliRunner

from harness.cli.app import cli
from harness.config import Config, parse_config
from harness.emulator import EmulatorProcess
from harness.engine import run_scenario
from harness.measurements import TOTAL, ScenarioResult, StepKind
from tests.integration.helpers import REPO, plain_http

APP = "harness-demo"
HEROKU_ACCEPT = "application/vnd.heroku+json; version=3"

HEAD = f"""\
version: 1
target:
  app: {APP}
  formations: [{{quantity: 1}}]
locustfiles:
  shop: {{path: {REPO / "locustfiles" / "demo_shop.py"}}}
  failing: {{path: failing.py}}
expected_peak: {{rps: 30}}
scenarios:
"""

SHOP_LOAD = """\
  - name: shop-load
    kind: load
    locustfile: shop
    level: {rps: 30}
    ramp_s: 0.5
    warmup_s: 1.5
    hold_s: 4
    window_s: 2
    slo: {p95_ms: 150, error_ratio: 0.01}
"""

# Every answer is marked failed by the user's own check (an HTTP 200 the locustfile rejects).
ALWAYS_FAILING = """\
from locust import FastHttpUser, constant, task


class Picky(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def health(self):
        with self.client.get("/health", catch_response=True) as response:
            response.failure("not what this user expected")
"""


def config(tmp_path: Path, *scenarios: str) -> Config:
    (tmp_path / "failing.py").write_text(ALWAYS_FAILING)
    return parse_config(HEAD + "".join(scenarios), source=tmp_path / "scenarios.yaml")


@pytest.fixture(scope="module")
def demo_url(emulator: EmulatorProcess) -> str:
    """The demo shop over plain HTTP (its router serves both): these tests are about load, not TLS."""
    return plain_http(emulator.web_url(APP)).rstrip("/")


def set_slowdown(emulator: EmulatorProcess, demo_url: str, slowdown: str | None) -> None:
    """Change DEMO_SLOWDOWN through the Platform API (a new release), then wait until the dyno serves it."""
    response = httpx.patch(
        f"{emulator.api_url}/apps/{APP}/config-vars",
        json={"DEMO_SLOWDOWN": slowdown},
        headers={"Authorization": f"Bearer {emulator.token}", "Accept": HEROKU_ACCEPT},
        timeout=10,
    )
    response.raise_for_status()
    expected = 40.0 * float(slowdown or 1)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            model = httpx.get(f"{demo_url}/api/capacity", timeout=5).json()
            if model["service_ms"]["search"] == expected:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"the demo dyno did not come back with DEMO_SLOWDOWN={slowdown} within 30 s")


@pytest.fixture
def slowed_down(emulator: EmulatorProcess, demo_url: str) -> Iterator[None]:
    """The demo shop at a quarter of its capacity (DEMO_SLOWDOWN=4), put back afterwards."""
    set_slowdown(emulator, demo_url, "4")
    try:
        yield
    finally:
        set_slowdown(emulator, demo_url, None)


def total_points(result: ScenarioResult) -> dict[float, float]:
    return {p.ts: p.rps for p in result.timeseries if p.name == TOTAL}


def test_load_at_a_fifth_of_capacity_passes_with_achieved_near_offered(tmp_path: Path, demo_url: str) -> None:
    cfg = config(tmp_path, SHOP_LOAD)
    result = run_scenario(cfg, cfg.scenario("shop-load"), host=demo_url, quiet=True)

    assert result.status == "passed", [v.describe() for v in result.verdicts]
    assert [s.window.plan.kind for s in result.steps] == [StepKind.WARMUP, StepKind.HOLD, StepKind.HOLD]
    judged = result.judged
    assert judged is not None and judged.offered_rps == 30
    assert abs(judged.achieved_rps - 30) / 30 <= 0.10
    assert {e.name for e in judged.endpoints} == {"/", "/products/<id>", "/search", "/checkout"}
    assert {v.criterion for v in result.verdicts} == {"error_ratio", "p95_ms", "saturation"}
    series = total_points(result)
    assert len(series) >= 6 and sum(series.values()) >= judged.total.requests


def test_lowered_capacity_fails_the_latency_slo_and_says_by_how_much(
    tmp_path: Path, demo_url: str, slowed_down: None
) -> None:
    cfg = config(tmp_path, SHOP_LOAD)
    result = run_scenario(cfg, cfg.scenario("shop-load"), host=demo_url, quiet=True)

    assert result.status == "failed"
    failed = [v for v in result.verdicts if not v.passed]
    p95 = next(v for v in failed if v.criterion == "p95_ms")
    assert p95.threshold == 150 and p95.measured is not None and p95.measured > 150
    assert p95.describe() == f"p95_ms {p95.measured:g} ms > 150 ms"
    assert p95.miss_ratio == pytest.approx((p95.measured - 150) / 150)


def test_an_abort_condition_stops_the_scenario_early(tmp_path: Path, demo_url: str) -> None:
    scenario = """\
  - name: lost
    kind: load
    locustfile: failing
    level: {users: 4}
    ramp_s: 0
    warmup_s: 0
    hold_s: 60
    window_s: 30
    abort: {error_ratio: 0.5, for_s: 2}
"""
    config(tmp_path, scenario)
    (tmp_path / "scenarios.yaml").write_text(HEAD + scenario)
    started = time.monotonic()
    outcome = CliRunner().invoke(
        cli,
        [
            "load",
            "lost",
            "--scenarios",
            str(tmp_path / "scenarios.yaml"),
            "--host",
            demo_url,
            "-q",
            "--format",
            "json",
        ],
    )
    elapsed = time.monotonic() - started

    assert outcome.exit_code == 1, outcome.output
    result = ScenarioResult.model_validate_json(outcome.stdout)
    assert result.status == "aborted" and elapsed < 30
    assert result.abort_reason is not None and "error ratio 100.0% over the last 2 s" in result.abort_reason
    assert result.steps[-1].window.aborted
    assert [(e.name, e.kind, e.example) for e in result.errors] == [
        ("/health", "CatchResponseError", "not what this user expected")
    ]


def test_a_spike_reports_how_fast_the_app_recovered(tmp_path: Path, demo_url: str) -> None:
    scenario = """\
  - name: spike
    kind: spike
    locustfile: shop
    base: {rps: 20}
    spike: {rps: 220}
    base_s: 2
    spike_s: 2
    recovery: {window_s: 1, limit_s: 15}
    slo: {p95_ms: 150}
"""
    cfg = config(tmp_path, scenario)
    result = run_scenario(cfg, cfg.scenario("spike"), host=demo_url, quiet=True)

    kinds = [s.window.plan.kind for s in result.steps]
    assert kinds[:2] == [StepKind.HOLD, StepKind.SPIKE] and kinds[2] == StepKind.RECOVERY
    recovery = result.recovery
    assert recovery is not None and recovery.recovered, [s.window.total.latency for s in result.steps]
    assert recovery.time_to_recover_s is not None and 0 <= recovery.time_to_recover_s <= 15
    spike = result.steps[1].window
    assert spike.offered_rps == 220 and spike.achieved_rps < 200  # beyond the dyno's ~145 req/s
    assert next(v for v in result.verdicts if v.criterion == "recovery_s").passed


def test_three_scenarios_in_one_process_count_their_own_requests(tmp_path: Path, demo_url: str) -> None:
    scenarios = [
        f"""\
  - name: short-{n}
    kind: load
    locustfile: shop
    level: {level}
    ramp_s: 0.5
    warmup_s: 1
    hold_s: 2
    window_s: 2
"""
        for n, level in enumerate(["{rps: 20}", "{users: 10}"])
    ]
    scenarios.append(
        """\
  - name: short-soak
    kind: soak
    locustfile: shop
    level: {rps: 20}
    ramp_s: 0.5
    warmup_s: 1
    hold_s: 2
    window_s: 1
    max_p95_drift_ratio: 10
"""
    )
    cfg = config(tmp_path, *scenarios)
    handlers_before = len(locust.events.request._handlers)
    for scenario in cfg.scenarios:
        result = run_scenario(cfg, scenario, host=demo_url, quiet=True)
        judged = result.judged
        assert judged is not None and judged.total.requests > 0
        in_window = [
            rps
            for ts, rps in total_points(result).items()
            if judged.start_ts <= ts and ts + 1 <= judged.end_ts
        ]
        # Per-second counts from the request listener agree with Locust's own windowed count:
        # a listener left over from an earlier scenario would double them.
        assert sum(in_window) <= judged.total.requests * 1.1 + 2
        if judged.offered_rps is not None:
            assert abs(judged.achieved_rps - 20) / 20 <= 0.10
        if scenario.kind == "soak":  # the first and last 1 s windows compared
            assert [s.window.plan.kind for s in result.steps].count(StepKind.HOLD) == 2
            assert next(v for v in result.verdicts if v.criterion == "p95_drift_ratio").measured is not None
    assert len(locust.events.request._handlers) == handlers_before
