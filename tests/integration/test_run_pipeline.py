"""`harness run` end to end, as a real subprocess against the emulator (issue 7).

The full run scales harness-demo from web=1 to web=2, runs a short load and a
short stress scenario, writes the run directory and the report, restores, and
stops the emulator it started. The interrupt tests send SIGINT/SIGTERM during
the stress phase and check the partial report, the restore and the exit code.
The crash tests use an emulator started by the test (so it outlives harness)
and check `harness restore` after `kill -9`, and that a failing Platform API
during the scale-up leaves no dyno scaled up.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.emulator import EmulatorProcess
from tests.harness_process import HarnessProcess
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


@pytest.fixture
def harness_runs() -> Iterator[list[HarnessProcess]]:
    """Every harness process a test starts is closed (and its leftovers ended) afterwards."""
    started: list[HarnessProcess] = []
    try:
        yield started
    finally:
        for process in started:
            process.close()


def test_full_run_against_the_embedded_emulator(tmp_path: Path, harness_runs: list[HarnessProcess]) -> None:
    scenarios = write_profile(tmp_path)
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=harness_env(tmp_path))
    harness_runs.append(run)
    code = run.wait(timeout_s=420)
    assert code in (0, 1), run.output
    [run_dir] = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete"
    assert [g["quantity"] for g in record["formation_tested"] if g["type"] == "web"] == [2]
    assert [g["quantity"] for g in record["formation_original"] if g["type"] == "web"] == [1]
    assert record["scale_up"]["latency_s"] > 0
    point = record["breaking_point"]
    assert point["status"] == "found"
    # Ground truth: 2 Standard-1X dynos x 4 slots / 40 ms = 200 req/s of /search.
    assert 160 <= point["sustainable_rps"] <= 220, point
    names = [e["event"] for e in events(run_dir)]
    assert "scale_requested" in names and "restore" in names
    restore = next(e for e in events(run_dir) if e["event"] == "restore")
    assert restore["restored"] is True
    assert (run_dir / "report.html").exists() and (run_dir / "junit.xml").exists()
    assert "report:" in run.output and str(run_dir) in run.output
    assert not (tmp_path / "state" / "journals" / "harness-demo.json").exists()
    assert run.survivors() == [], "the emulator or a dyno outlived harness run"


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_during_stress_restores_and_writes_a_partial_report(
    tmp_path: Path, harness_runs: list[HarnessProcess], signum: int, code: int
) -> None:
    scenarios = write_profile(tmp_path, hold_s=2)
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=harness_env(tmp_path))
    harness_runs.append(run)
    run.expect("== stress", timeout_s=240)
    run.send(signum)
    assert run.wait(timeout_s=180) == code, run.output
    [run_dir] = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "incomplete"
    assert "peak" in [s["name"] for s in record["scenarios"]]
    assert (run_dir / "report.html").exists()
    restore = next(e for e in events(run_dir) if e["event"] == "restore")
    assert restore["restored"] is True
    assert run.survivors() == []


@pytest.fixture
def outside_emulator() -> Iterator[EmulatorProcess]:
    """An emulator the test owns, so it outlives a killed harness (as Heroku would)."""
    process = EmulatorProcess.start(boot_timeout_s=20.0, router_timeout_s=5.0, shutdown_grace_s=2.0)
    try:
        yield process
    finally:
        process.stop()


def test_kill_9_during_load_then_harness_restore(
    tmp_path: Path, harness_runs: list[HarnessProcess], outside_emulator: EmulatorProcess
) -> None:
    env = harness_env(
        tmp_path, HEROKU_API_URL=outside_emulator.api_url, HEROKU_API_KEY=outside_emulator.token
    )
    scenarios = write_profile(tmp_path, hold_s=30)
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=env)
    harness_runs.append(run)
    run.expect("== load", timeout_s=120)
    run.send(signal.SIGKILL)
    run.wait(timeout_s=30)
    assert web_formation(outside_emulator)[0] == 2  # left scaled up by the crash
    assert (tmp_path / "state" / "journals" / "harness-demo.json").exists()
    refused = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=env)
    harness_runs.append(refused)
    assert refused.wait(timeout_s=60) == 3
    assert "harness restore --app harness-demo" in refused.output
    restore = HarnessProcess(["restore", "--app", "harness-demo"], cwd=tmp_path, env=env)
    harness_runs.append(restore)
    assert restore.wait(timeout_s=120) == 0, restore.output
    assert web_formation(outside_emulator) == (1, "Standard-1X")
    assert not (tmp_path / "state" / "journals" / "harness-demo.json").exists()
    token = outside_emulator.token
    for process in (run, refused, restore):
        assert token not in process.output
    for path in (tmp_path / "reports").rglob("*"):
        if path.is_file():
            assert token not in path.read_text(errors="replace"), path


def test_failing_api_during_scale_up_leaves_nothing_scaled(
    tmp_path: Path, harness_runs: list[HarnessProcess], outside_emulator: EmulatorProcess
) -> None:
    env = harness_env(
        tmp_path, HEROKU_API_URL=outside_emulator.api_url, HEROKU_API_KEY=outside_emulator.token
    )
    outside_emulator.fail_next(200, 503, method="GET", path="/apps/harness-demo/dynos")
    try:
        run = HarnessProcess(["run", "--scenarios", str(write_profile(tmp_path))], cwd=tmp_path, env=env)
        harness_runs.append(run)
        assert run.wait(timeout_s=300) == 3, run.output
    finally:
        outside_emulator.clear_faults()
    assert web_formation(outside_emulator) == (1, "Standard-1X")
    assert not (tmp_path / "state" / "journals" / "harness-demo.json").exists()
    [run_dir] = run_dirs(tmp_path)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"


def test_second_interrupt_skips_the_report_but_still_restores(
    tmp_path: Path, harness_runs: list[HarnessProcess]
) -> None:
    scenarios = write_profile(tmp_path, hold_s=2)
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=harness_env(tmp_path))
    harness_runs.append(run)
    run.expect("== stress", timeout_s=240)
    run.send(signal.SIGINT)
    run.expect("stopping the load", timeout_s=30)
    run.send(signal.SIGINT)
    assert run.wait(timeout_s=180) == 130, run.output
    assert "the report will be skipped" in run.output
    [run_dir] = run_dirs(tmp_path)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "incomplete"
    assert not (run_dir / "report.html").exists()
    restore = next(e for e in events(run_dir) if e["event"] == "restore")
    assert restore["restored"] is True
    assert run.survivors() == []
