"""Helpers for tests that run `harness` as a subprocess: a short scenarios.yaml, its environment, its outputs.

Test modules import from here, never from each other; the fixtures that go with
these (`harness_runs`, `outside_emulator`) are in conftest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from harness.emulator import EmulatorProcess
from tests.integration.helpers import REPO

ACCEPT = "application/vnd.heroku+json; version=3"

SHORT_PROFILE = """
version: 1
target:
  app: harness-demo
  platform: {platform}
  formations:
    - {{quantity: 2, size: Standard-1X}}
  protected_apps: [shop-production]
load_generator:
  request_timeout_s: 10
locustfiles:
  shop: {{path: {repo}/locustfiles/demo_shop.py}}
  search: {{path: {repo}/locustfiles/search_only.py}}
expected_peak: {{rps: 40}}
required_headroom: 1.5
reports_dir: {reports}
scenarios:
  - name: peak
    kind: load
    locustfile: search
    level: {{rps: 40}}
    ramp_s: 1
    warmup_s: 1
    hold_s: {hold_s}
    window_s: 2
    slo: {{p95_ms: 250, error_ratio: 0.01}}
  - name: breaking-point
    kind: stress
    locustfile: search
    start: {{rps: 40}}
    max: {{rps: 600}}
    growth: 2.0
    tolerance: 0.1
    ramp_s: 1
    step_hold_s: 2
    confirm_hold_s: 3
    slo: {{p95_ms: 300, error_ratio: 0.01}}
    recovery: {{level: {{rps: 40}}, window_s: 1, limit_s: 6}}
"""


def write_profile(tmp_path: Path, *, platform: str = "auto", hold_s: int = 4) -> Path:
    """A short scenarios.yaml in tmp_path (reports under tmp_path/reports)."""
    path = tmp_path / "scenarios.yaml"
    path.write_text(
        SHORT_PROFILE.format(platform=platform, repo=REPO, reports=tmp_path / "reports", hold_s=hold_s)
    )
    return path


def harness_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a harness subprocess: no token of the developer, a private state dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEROKU_", "HARNESS_"))}
    env["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    env["NETRC"] = str(tmp_path / "no-netrc")
    env.update(extra)
    return env


def run_dirs(tmp_path: Path) -> list[Path]:
    reports = tmp_path / "reports"
    return sorted(p for p in reports.iterdir() if p.is_dir()) if reports.exists() else []


def events(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line]


def web_formation(emulator: EmulatorProcess, app: str = "harness-demo") -> tuple[int, str]:
    response = httpx.get(
        f"{emulator.api_url}/apps/{app}/formation/web",
        headers={"Accept": ACCEPT, "Authorization": f"Bearer {emulator.token}"},
    )
    response.raise_for_status()
    body = response.json()
    return body["quantity"], body["dyno_size"]["name"]


def api_client(emulator: EmulatorProcess) -> httpx.Client:
    """A plain httpx client of the emulator's Platform API (token and Accept set): for test setup."""
    return httpx.Client(
        base_url=emulator.api_url,
        headers={"Authorization": f"Bearer {emulator.token}", "Accept": ACCEPT},
        timeout=30.0,
    )


# A multi-formation run on /search made slow (100 ms: 40 req/s per Standard-1X dyno), so the
# load stays small on a shared CI machine; `config_vars` switch on the shared bottleneck.
PLAN_PROFILE = """
version: 1
target:
  app: harness-demo
  platform: auto
  formations: {formations}
  emulator:
    config_vars: {config_vars}
load_generator:
  request_timeout_s: 10
locustfiles:
  search: {{path: {repo}/locustfiles/search_only.py}}
expected_peak: {{rps: {peak}}}
required_headroom: 1.25
reports_dir: {reports}
scenarios:
  - name: breaking-point
    kind: stress
    locustfile: search
    start: {{rps: 10}}
    max: {{rps: 300}}
    growth: 2.0
    tolerance: 0.1
    ramp_s: 1
    step_hold_s: 3
    confirm_hold_s: 4
    slo: {{p95_ms: 300, error_ratio: 0.01}}
    recovery: {{level: {{rps: 10}}, window_s: 1, limit_s: 6}}
"""
PLAN_PER_DYNO_RPS = 40.0  # the demo app's /search at DEMO_SERVICE_MS_SEARCH=100: 4 slots / 0.1 s


def write_plan_profile(
    tmp_path: Path, dynos: list[int], *, peak: float, config_vars: dict[str, str] | None = None
) -> Path:
    """A scenarios.yaml testing `dynos` Standard-1X dynos in turn (reports under tmp_path/reports)."""
    path = tmp_path / "scenarios.yaml"
    formations = json.dumps([{"quantity": n, "size": "Standard-1X"} for n in dynos])
    variables = json.dumps({"DEMO_SERVICE_MS_SEARCH": "100", **(config_vars or {})})
    path.write_text(
        PLAN_PROFILE.format(
            formations=formations,
            config_vars=variables,
            repo=REPO,
            peak=peak,
            reports=tmp_path / "reports",
        )
    )
    return path
