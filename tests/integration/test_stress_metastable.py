"""The breaking-point search against a real metastable server over loopback (issue 12).

`tests/apps/queue_server.py --metastable`: 4 slots × 20 ms = 200 req/s rested;
once more than 100 requests queue (past the SLO already), every request costs 1.6× as long (125 req/s)
until the server has been idle for 1 s. The growth-3 probes overload it, so a
search that kept measuring after the overload would narrow in on ~125 req/s.
The drained re-measurement must report the rested capacity instead.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harness.config import parse_config
from harness.engine import run_scenario
from harness.measurements import StepKind
from tests.apps import queue_server

LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfiles" / "search_only.py"
SCENARIOS = f"""
version: 1
target: {{app: harness-demo, platform: emulator, formations: [{{quantity: 1}}]}}
locustfiles:
  search: {{path: {LOCUSTFILE}}}
expected_peak: {{rps: 50}}
scenarios:
  - name: metastable-stress
    kind: stress
    locustfile: search
    start: {{rps: 50}}
    max: {{rps: 2000}}
    growth: 3
    tolerance: 0.05
    ramp_s: 0.5
    step_hold_s: 3
    confirm_hold_s: 6
    saturation_tolerance: 0.05
    drain_s: 3
    slo: {{error_ratio: 0.01, p95_ms: 500}}
    recovery: {{level: {{rps: 50}}, window_s: 1, limit_s: 20}}
"""
RESTED_RPS = 200.0
DEGRADED_RPS = 125.0

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket object:pytest.PytestUnraisableExceptionWarning"
    ),
]


def test_the_search_reports_the_rested_capacity_of_a_metastable_server(tmp_path: Path) -> None:
    args = ("--slots", "4", "--service-ms", "20", "--metastable", "--trigger-queue", "100")
    with queue_server(*args, "--slowdown", "1.6", "--recover-idle-s", "1") as url:
        config = parse_config(SCENARIOS, source=tmp_path / "scenarios.yaml")
        result = run_scenario(config, config.scenario("metastable-stress"), host=url, quiet=True)
        stats = httpx.get(f"{url}/stats", timeout=10).json()
    point = result.breaking_point
    assert point is not None and point.status == "found", result.abort_reason
    assert stats["degradations"] >= 1  # the overload did degrade it
    assert point.sustainable_rps is not None
    # Well above the degraded 125 req/s, and not above the rested capacity.
    assert 0.8 * RESTED_RPS <= point.sustainable_rps <= 1.05 * RESTED_RPS, point
    drains = [r for r in result.steps if r.window.plan.kind is StepKind.DRAIN]
    assert drains
    for drain in drains:  # nothing is sent: only the requests in flight when it began complete
        before = result.steps[result.steps.index(drain) - 1].window
        assert drain.window.offered_rps == 0
        assert drain.window.total.requests <= (before.concurrency_max or 0) + 1, (drain, before)
    assert point.idle_time_s > 0
    finding = point.metastability
    if finding is not None:  # found when a degraded step fell materially below the rested capacity
        assert finding.rested_rps == point.sustainable_rps
        assert finding.sentence(point.mode).startswith("after an overload the app ")
