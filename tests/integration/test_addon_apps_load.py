"""`harness run` against the add-on test apps: load through the router, the app, and a real PostgreSQL/Redis.

The emulator is started by harness itself from `target.emulator.app_dir`, so
the add-on comes from the app's app.json. A short, bounded load scenario (a
few seconds at a few dozen req/s over loopback) must pass its SLOs with no
errors; and whether harness finishes, is interrupted (SIGINT, SIGTERM) or is
killed (SIGKILL), no emulator, dyno, postgres or redis-server process is left.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from harness.emulator.addons_services import find_binary
from harness.errors import EmulatorError
from tests.harness_process import HarnessProcess
from tests.integration.helpers import REPO
from tests.integration.run_helpers import harness_env, run_dirs

pytest.importorskip("psycopg")
pytest.importorskip("redis")

PROFILE = """
version: 1
target:
  app: {app}
  platform: auto
  formations:
    - {{quantity: 2, size: Standard-1X}}
  emulator:
    app_dir: {app_dir}
    boot_timeout_s: 30
load_generator:
  request_timeout_s: 10
locustfiles:
  app: {{path: {app_dir}/locustfile.py}}
expected_peak: {{rps: 15}}
required_headroom: 1.0
reports_dir: {reports}
scenarios:
  - name: addon-load
    kind: load
    locustfile: app
    level: {{rps: 15}}
    ramp_s: 1
    warmup_s: 1
    hold_s: {hold_s}
    window_s: 2
    slo: {{p95_ms: 2000, error_ratio: 0.0}}
"""
SERVICES = ("postgres", "redis-server")


@pytest.fixture(autouse=True)
def services_installed() -> None:
    for binary, package in (("initdb", "postgresql"), ("redis-server", "redis-server")):
        try:
            find_binary(binary, package=package, service="test")
        except EmulatorError:
            pytest.skip(f"`{binary}` is missing: install Debian's `{package}` (apt-get install {package})")


def service_processes() -> set[int]:
    """Running postgres/redis-server processes of an emulator (they run in a harness-* temp directory)."""
    found = set()
    for process in psutil.process_iter(["name"]):
        try:
            if process.info["name"] in SERVICES and "/harness-" in process.cwd():
                found.add(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def start_run(tmp_path: Path, app: str, hold_s: int) -> HarnessProcess:
    profile = tmp_path / "scenarios.yaml"
    app_dir = REPO / "tests" / "apps" / app.replace("-", "_")
    profile.write_text(PROFILE.format(app=app, app_dir=app_dir, reports=tmp_path / "reports", hold_s=hold_s))
    return HarnessProcess(["run", "--scenarios", str(profile)], cwd=tmp_path, env=harness_env(tmp_path))


def left_behind(run: HarnessProcess, before: set[int]) -> list[int]:
    return sorted({p.pid for p in run.survivors()} | (service_processes() - before))


@pytest.mark.parametrize("app", ["pg-notes", "redis-counter"])
def test_an_addon_app_passes_a_short_load_and_leaves_nothing_running(
    tmp_path: Path, harness_runs: list[HarnessProcess], app: str
) -> None:
    before = service_processes()
    run = start_run(tmp_path, app, hold_s=4)
    harness_runs.append(run)
    code = run.wait(timeout_s=420)
    assert code == 0, run.output
    [run_dir] = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete", record["status"]
    assert "addon-load: passed" in run.output, run.output
    assert left_behind(run, before) == [], "a process outlived harness run"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_service_outlives_harness_on_any_exit(
    tmp_path: Path, harness_runs: list[HarnessProcess], sig: signal.Signals
) -> None:
    before = service_processes()
    run = start_run(tmp_path, "pg-notes", hold_s=60)
    harness_runs.append(run)
    run.expect("== load", timeout_s=240)
    assert service_processes() - before, "the app's PostgreSQL runs during the load"
    os.kill(run.popen.pid, sig)
    run.wait(timeout_s=120)
    deadline = time.monotonic() + 60.0
    while left_behind(run, before) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left_behind(run, before) == [], f"a process outlived harness after signal {sig.name}"
