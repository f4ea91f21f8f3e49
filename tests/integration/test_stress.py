"""`harness stress` against the emulator's demo app: the breaking point matches the known capacity.

The `/search`-only locustfile in arrival-rate mode, at 1 Standard-1X dyno
(through the CLI) and at 2 (a Locust master with 2 local workers; and once
with an abort condition that the 3× overshoot trips). The truth is the demo
app's own capacity model (`GET /api/capacity`, 100 req/s of /search per dyno)
times the dynos; the search must land within ±10% of it. Each search keeps
its load under ~45 s (short holds, 5% tolerance).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from harness.cli.app import cli
from harness.config import parse_config
from harness.emulator import EmulatorProcess
from harness.engine import run_scenario
from harness.measurements import StepKind
from tests.integration.helpers import plain_http

DEMO = "harness-demo"
SEARCH_LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfiles" / "search_only.py"
SCENARIOS = """
version: 1
target: {{app: harness-demo, platform: emulator, formations: [{{quantity: 1}}]}}
locustfiles:
  search: {{path: {locustfile}}}
expected_peak: {{rps: {start}}}
scenarios:
  - name: search-stress
    kind: stress
    locustfile: search
    start: {{rps: {start}}}
    max: {{rps: 1000}}
    growth: {growth}
    tolerance: 0.05
    ramp_s: 0.5
    step_hold_s: 3
    confirm_hold_s: 6
    saturation_tolerance: 0.05
    slo: {{error_ratio: 0.01, p95_ms: 1000}}
    recovery: {{level: {{rps: {start}}}, window_s: 1, limit_s: 20}}
    abort: {abort}
"""

pytestmark = [
    pytest.mark.slow,
    # When a step lowers the level, Locust kills surplus users mid-request (stop_timeout 0) and their
    # keep-alive sockets are only closed by the garbage collector. That is Locust's, not a leak of ours.
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in. <socket object:pytest.PytestUnraisableExceptionWarning"
    ),
]


@pytest.fixture
def api(emulator: EmulatorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.api_url,
        headers={
            "Authorization": f"Bearer {emulator.token}",
            "Accept": "application/vnd.heroku+json; version=3",
        },
        timeout=30.0,
    ) as client:
        yield client


def _scale(api: httpx.Client, dynos: int) -> None:
    """Scale web and wait until that many dynos are up (generous deadline)."""
    api.patch(f"/apps/{DEMO}/formation/web", json={"quantity": dynos}).raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = [d["state"] for d in api.get(f"/apps/{DEMO}/dynos").json() if d["type"] == "web"]
        if states.count("up") == dynos and len(states) == dynos:
            return
        time.sleep(0.2)
    raise AssertionError(f"web={dynos} did not come up within 60 s")


def _truth(url: str, dynos: int) -> float:
    capacity = httpx.get(f"{url}/api/capacity", timeout=10).json()
    return float(capacity["capacity_rps"]["search"]) * dynos


def _scenarios_file(
    tmp_path: Path, start: float, *, growth: float = 3.0, abort: str = "{error_ratio: 0.95, for_s: 5}"
) -> Path:
    path = tmp_path / "scenarios.yaml"
    text = SCENARIOS.format(locustfile=SEARCH_LOCUSTFILE, start=start, growth=growth, abort=abort)
    path.write_text(text, encoding="utf-8")
    return path


def test_stress_command_finds_one_dyno_capacity(
    emulator: EmulatorProcess, api: httpx.Client, tmp_path: Path
) -> None:
    _scale(api, 1)
    url = plain_http(emulator.web_url(DEMO)).rstrip("/")
    truth = _truth(url, 1)
    scenarios = _scenarios_file(tmp_path, start=25)
    result = CliRunner().invoke(
        cli, ["stress", "--scenarios", str(scenarios), "--host", url, "--quiet", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    point = found["breaking_point"]
    assert point["status"] == "found", found.get("abort_reason")
    assert point["sustainable_rps"] == pytest.approx(truth, rel=0.10)
    assert point["bracket_high"] <= point["bracket_low"] * 1.05 + 1e-6
    assert found["recovery"]["recovered"]
    kinds = [step["window"]["plan"]["kind"] for step in found["steps"]]
    assert "confirm" in kinds and "recovery" in kinds


def test_stress_finds_two_dyno_capacity_with_distributed_load(
    emulator: EmulatorProcess, api: httpx.Client, tmp_path: Path
) -> None:
    """The same search driven by a Locust master and 2 local worker processes."""
    _scale(api, 2)
    try:
        url = plain_http(emulator.web_url(DEMO)).rstrip("/")
        truth = _truth(url, 2)
        config = parse_config(
            _scenarios_file(tmp_path, start=50).read_text("utf-8"), source=tmp_path / "scenarios.yaml"
        )
        result = run_scenario(config, config.scenario("search-stress"), host=url, workers=2, quiet=True)
    finally:
        _scale(api, 1)
    point = result.breaking_point
    assert point is not None and point.status == "found", result.abort_reason
    assert point.sustainable_rps == pytest.approx(truth, rel=0.10)
    assert all(step.window.plan.level <= 1000 for step in result.steps)
    assert result.workers == 2


def test_an_abort_tripped_by_the_overshoot_caps_the_search_which_still_finds_the_capacity(
    emulator: EmulatorProcess, api: httpx.Client, tmp_path: Path
) -> None:
    """2 dynos (200 req/s), 20 req/s × 3: the probe at 540 req/s trips the abort (> 50 % errors for 2 s)."""
    _scale(api, 2)
    try:
        url = plain_http(emulator.web_url(DEMO)).rstrip("/")
        truth = _truth(url, 2)
        source = _scenarios_file(tmp_path, start=20, abort="{error_ratio: 0.5, for_s: 2}")
        config = parse_config(source.read_text("utf-8"), source=source)
        result = run_scenario(config, config.scenario("search-stress"), host=url, quiet=True)
    finally:
        _scale(api, 1)
    point = result.breaking_point
    assert point is not None
    tripped = [step for step in result.steps if step.window.aborted]
    assert [step.window.plan.level for step in tripped] == [540.0], [s.note for s in result.steps]
    assert tripped[0].broken_by == "abort"
    after = result.steps[result.steps.index(tripped[0]) + 1 :]
    assert after[0].window.plan.kind is StepKind.RECOVERY  # the load dropped at once
    assert all(step.window.plan.level < 540.0 for step in after)  # and never came back
    assert (result.status, point.status) == ("passed", "found"), result.abort_reason
    assert point.sustainable_rps == pytest.approx(truth, rel=0.10)
