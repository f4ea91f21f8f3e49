"""One `harness run` over several formations against the emulator's demo app: one run, one plan (issue 15).

The demo app's capacity is linear in dynos by construction (`/search` at 100 ms:
40 req/s per Standard-1X dyno), so 1 → 2 dynos must measure an efficiency near
100 % and recommend the count the linear model predicts. With the shared
bottleneck on (`DEMO_SHARED_CAP_RPS` 45: the whole app serves at most 45 req/s),
1 → 3 dynos must say that scaling stopped at one dyno and recommend no more.
An interrupt during the second formation still restores and reports the first.
These run `harness run` as a subprocess with the embedded emulator, minutes each.
"""

from __future__ import annotations

import json
import math
import signal
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from harness.cli.app import cli
from tests.harness_process import HarnessProcess
from tests.integration.run_helpers import (
    PLAN_PER_DYNO_RPS,
    events,
    harness_env,
    run_dirs,
    write_plan_profile,
)

HEADROOM = 1.25


def _run(tmp_path: Path, harness_runs: list[HarnessProcess], scenarios: Path) -> HarnessProcess:
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=harness_env(tmp_path))
    harness_runs.append(run)
    return run


def _finished(tmp_path: Path, run: HarnessProcess) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The one run directory, its run.json and summary.json, with the original formation back."""
    [run_dir] = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    names = [e["event"] for e in events(run_dir)]
    assert names.count("scale_requested") == len(record["formations"]) or record["status"] != "complete"
    restore = next(e for e in events(run_dir) if e["event"] == "restore")
    assert restore["restored"] is True
    assert [g["quantity"] for g in record["formation_original"] if g["type"] == "web"] == [1]
    assert not (tmp_path / "state" / "journals" / "harness-demo.json").exists()
    assert run.survivors() == [], "the emulator or a dyno outlived harness run"
    return run_dir, record, summary


def _points(summary: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Dyno count → its row of the plan (capacity point and efficiency)."""
    [size] = summary["capacity_plan"]["sizes"]
    return {f["point"]["dynos"]: f for f in size["formations"]}


def test_one_run_over_two_formations_scales_linearly_and_recommends_the_predicted_count(
    tmp_path: Path, harness_runs: list[HarnessProcess]
) -> None:
    peak = 36.0  # × 1.25 = 45 req/s: more than one dyno can ever serve (40), well within two
    run = _run(tmp_path, harness_runs, write_plan_profile(tmp_path, [1, 2], peak=peak))
    assert run.wait(timeout_s=900) == 0, run.output
    run_dir, record, summary = _finished(tmp_path, run)
    assert record["status"] == "complete" and record["prices_source"] == "live"
    assert [(f["dynos"], f["status"]) for f in record["formations"]] == [(1, "complete"), (2, "complete")]
    for formation in record["formations"]:
        child = run_dir / formation["dir"]
        tested = json.loads((child / "run.json").read_text())["formation_tested"]
        assert [g["quantity"] for g in tested if g["type"] == "web"] == [formation["dynos"]]
        assert (child / "report.html").exists() and formation["breaking_point"]["status"] == "found"
    points = _points(summary)
    one, two = points[1]["point"], points[2]["point"]
    assert one["rps"] <= PLAN_PER_DYNO_RPS * 1.1  # no more than the app can serve
    efficiency = points[2]["efficiency"]["efficiency"]
    assert 0.85 <= efficiency <= 1.15, (one, two)
    choice = summary["capacity_plan"]["recommendation"]["choice"]
    linear = math.ceil(peak * HEADROOM / one["rps"])  # what the linear model from one dyno predicts
    assert choice["dynos"] == linear == math.ceil(peak * HEADROOM / PLAN_PER_DYNO_RPS) == 2
    html = (run_dir / "report.html").read_text()
    assert html.index('id="test-cost-summary"') < html.index('id="recommendation"')
    assert "2 × Standard-1X holds the expected 36 req/s with 1.25× headroom" in html
    assert "formations/2-2x-standard-1x/report.html" in html
    assert summary["test_cost"]["dyno_hours"] > 0 and summary["test_cost"]["usd"] > 0
    assert f"report: {run_dir / 'report.html'}" in run.output

    rerendered = CliRunner().invoke(cli, ["report", str(run_dir), "--json"])
    assert rerendered.exit_code == 0, rerendered.output
    assert json.loads(rerendered.output)["verdict"] == summary["verdict"]
    history = CliRunner().invoke(cli, ["history", "--reports-dir", str(tmp_path / "reports"), "--json"])
    assert history.exit_code == 0, history.output
    assert [(h["path"], h["verdict"]) for h in json.loads(history.output)] == [(str(run_dir), "pass")]


def test_with_a_shared_bottleneck_the_plan_says_where_scaling_stops(
    tmp_path: Path, harness_runs: list[HarnessProcess]
) -> None:
    # The whole app serves at most 45 req/s, whatever the dynos: 3 dynos cannot add much to one.
    shared = {"DEMO_SHARED_CAP_RPS": "45", "DEMO_SHARED_LOCK": str(tmp_path / "shared.lock")}
    scenarios = write_plan_profile(tmp_path, [1, 3], peak=40.0, config_vars=shared)
    run = _run(tmp_path, harness_runs, scenarios)
    assert run.wait(timeout_s=900) == 1, run.output  # no formation holds 40 × 1.25 = 50 req/s
    run_dir, record, summary = _finished(tmp_path, run)
    assert record["status"] == "complete"
    points = _points(summary)
    assert points[3]["efficiency"]["efficiency"] < 0.6
    [size] = summary["capacity_plan"]["sizes"]
    assert size["stop"]["stopped"] is True and size["stop"]["useful_dynos"] == 1
    advice = summary["capacity_plan"]["recommendation"]
    assert advice["choice"] is None
    assert max(c["dynos"] for c in advice["candidates"]) == 1  # no more dynos than help
    html = (run_dir / "report.html").read_text()
    assert "From 1 to 3 Standard-1X dynos capacity rose" in html
    assert "a shared bottleneck" in html and "more than 1 do not help" in html
    assert "No formation measured holds the expected 40 req/s" in html
    assert "more Standard-1X dynos do not help" in html


def test_an_interrupt_in_the_second_formation_restores_and_plans_the_first(
    tmp_path: Path, harness_runs: list[HarnessProcess]
) -> None:
    run = _run(tmp_path, harness_runs, write_plan_profile(tmp_path, [1, 2], peak=36.0))
    run.expect("formation 2: web=2:Standard-1X", timeout_s=600)
    deadline = time.monotonic() + 120
    while run.output.count("== stress") < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    run.send(signal.SIGINT)
    assert run.wait(timeout_s=300) == 130, run.output
    run_dir, record, summary = _finished(tmp_path, run)
    assert record["status"] == "incomplete"
    statuses = [(f["dynos"], f["status"]) for f in record["formations"]]
    assert statuses == [(1, "complete"), (2, "incomplete")]
    assert (run_dir / "report.html").exists()
    assert list(_points(summary)) == [1]  # the interrupted formation has no breaking point
