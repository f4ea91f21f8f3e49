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
import signal
import stat
import time
from pathlib import Path

import psutil
import pytest

from harness.emulator import EmulatorProcess
from harness.report import render_report
from harness.report.outcomes import run_outcomes
from harness.results import RunDir, RunStatus
from tests.harness_process import HarnessProcess
from tests.integration.helpers import REPO
from tests.integration.run_helpers import events, harness_env, run_dirs, web_formation, write_profile


def test_full_run_against_the_embedded_emulator(tmp_path: Path, harness_runs: list[HarnessProcess]) -> None:
    scenarios = write_profile(tmp_path)
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=harness_env(tmp_path))
    harness_runs.append(run)
    code = run.wait(timeout_s=420)
    assert code in (0, 1), run.output
    [run_dir] = run_dirs(tmp_path)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "complete"
    # the emulator's router serves HTTPS as Heroku's does; warm-up, probe and load verified it
    assert record["platform"]["app_url"].startswith("https://127.0.0.1:"), record["platform"]
    assert [g["quantity"] for g in record["formation_tested"] if g["type"] == "web"] == [2]
    assert [g["quantity"] for g in record["formation_original"] if g["type"] == "web"] == [1]
    assert record["scale_up"]["latency_s"] > 0
    point = record["breaking_point"]
    assert point["status"] == "found"
    # Ground truth: 2 Standard-1X dynos x 4 slots / 40 ms = 200 req/s of /search.
    assert 150 <= point["sustainable_rps"] <= 220, point  # a loaded 2-core CI machine lands low
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
    # What the search did and did not do, in the terminal, summary.json and the report.
    summary = json.loads((run_dir / "summary.json").read_text())
    search = next(o for o in summary["scenario_outcomes"] if o["scenario"] == "breaking-point")
    assert search["status"] == "interrupted" and search["stopped_in"], search
    assert search["missing"].startswith("no breaking point"), search
    assert search["sentence"] in run.output and search["sentence"] in (run_dir / "report.html").read_text()
    assert "breaking point ≈" not in run.output and "no stress scenario" not in summary["verdict"]
    restore = next(e for e in events(run_dir) if e["event"] == "restore")
    assert restore["restored"] is True
    assert run.survivors() == []


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
    assert refused.wait(timeout_s=60) == 2  # a refusal, like a guard
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


def test_repeats_share_one_scale_up_and_a_series(tmp_path: Path, harness_runs: list[HarnessProcess]) -> None:
    scenarios = write_profile(tmp_path, hold_s=2)
    args = ["run", "peak", "--repeat", "2", "--scenarios", str(scenarios)]
    run = HarnessProcess(args, cwd=tmp_path, env=harness_env(tmp_path))
    harness_runs.append(run)
    code = run.wait(timeout_s=300)
    assert code in (0, 1), run.output
    records = [json.loads((d / "run.json").read_text()) for d in run_dirs(tmp_path)]
    assert sorted(r["repeat"] for r in records) == [1, 2]
    assert len({r["series_id"] for r in records}) == 1 and records[0]["repeats"] == 2
    assert all(r["status"] == "complete" and r["scenarios"][0]["judged"] for r in records)
    assert sum(e["event"] == "scale_requested" for r in run_dirs(tmp_path) for e in events(r)) == 1
    compare = HarnessProcess(
        [
            "compare",
            str(run_dirs(tmp_path)[0]),
            records[1]["series_id"],
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
        cwd=tmp_path,
        env=harness_env(tmp_path),
    )
    harness_runs.append(compare)
    assert compare.wait(timeout_s=60) == 5, compare.output  # 2 + 2 repeats: no verdict
    assert "no verdict with 2 + 2 repeats" in compare.output
    assert run.survivors() == []


def test_a_bad_locustfile_is_refused_before_any_formation_change(
    tmp_path: Path, harness_runs: list[HarnessProcess], outside_emulator: EmulatorProcess
) -> None:
    bad = tmp_path / "broken_search.py"
    bad.write_text("from locust import HttpUser\nimport no_such_module_anywhere\n")
    scenarios = write_profile(tmp_path)
    # The load scenario's file is fine; only the stress scenario (run last) uses the broken one.
    scenarios.write_text(scenarios.read_text().replace(f"{REPO}/locustfiles/search_only.py", str(bad)))
    scenarios.write_text(
        scenarios.read_text().replace("    locustfile: search\n    level", "    locustfile: shop\n    level")
    )
    env = harness_env(
        tmp_path, HEROKU_API_URL=outside_emulator.api_url, HEROKU_API_KEY=outside_emulator.token
    )
    since = max((e["seq"] for e in outside_emulator.requests()), default=0)
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=env)
    harness_runs.append(run)
    assert run.wait(timeout_s=120) == 2, run.output
    assert "no_such_module_anywhere" in run.output and "locustfiles.search" in run.output
    assert [e for e in outside_emulator.requests(since) if e["method"] != "GET"] == []  # no PATCH at all
    assert web_formation(outside_emulator) == (1, "Standard-1X")
    assert run_dirs(tmp_path) == []
    auto = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=harness_env(tmp_path))
    harness_runs.append(auto)
    assert auto.wait(timeout_s=120) == 2, auto.output
    assert "starting the local emulator" not in auto.output  # refused before anything started


def _emulator_of_the_run(tmp_path: Path, timeout_s: float = 60.0) -> dict[str, object]:
    """The emulator note `harness run` writes for its own emulator (pid, API URL, token file)."""
    note = tmp_path / "state" / "emulator" / "harness-demo.json"
    deadline = time.monotonic() + timeout_s
    while not note.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    data: dict[str, object] = json.loads(note.read_text())
    return data


@pytest.mark.parametrize("phase", ["scale", "load", "stress"])
def test_kill_9_on_the_auto_started_emulator_then_restore_and_status_explain(
    tmp_path: Path, harness_runs: list[HarnessProcess], phase: str
) -> None:
    scenarios = write_profile(tmp_path, hold_s=20)
    env = harness_env(tmp_path)
    run = HarnessProcess(["run", "--scenarios", str(scenarios)], cwd=tmp_path, env=env)
    harness_runs.append(run)
    note = _emulator_of_the_run(tmp_path)
    token_file = Path(str(note["token_file"]))
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    run.expect(f"emulator API {note['api_url']}", timeout_s=60)
    token = token_file.read_text().strip()
    journal = tmp_path / "state" / "journals" / "harness-demo.json"
    run.expect(f"== {phase}", timeout_s=240)
    deadline = time.monotonic() + 60
    while not journal.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if phase != "scale":
        time.sleep(6)  # a few windows, so some seconds are measured and handed over
    run.send(signal.SIGKILL)
    run.wait(timeout_s=30)
    emulator_pid = int(str(note["pid"]))
    deadline = time.monotonic() + 30
    while psutil.pid_exists(emulator_pid) and time.monotonic() < deadline:
        time.sleep(0.2)  # it follows its killed parent, with every dyno
    status = HarnessProcess(["status"], cwd=tmp_path, env=env)
    harness_runs.append(status)
    assert status.wait(timeout_s=60) == 0, status.output
    assert "local emulator it started" in status.output and "has stopped" in status.output
    restore = HarnessProcess(["restore"], cwd=tmp_path, env=env)
    harness_runs.append(restore)
    assert restore.wait(timeout_s=60) == 0, restore.output
    assert "nothing is left scaled" in restore.output and "Journal removed." in restore.output
    assert not journal.exists() and not token_file.exists()
    [run_dir] = run_dirs(tmp_path)
    record = RunDir.open(run_dir).record
    assert record.status == RunStatus.INCOMPLETE
    assert f"during the {phase} phase" in (record.failure or ""), record.failure
    if phase != "scale":
        assert len(RunDir.open(run_dir).timeseries) > 0  # the seconds measured before the kill
    # Per scenario: the one it died in (and its step), and those it never reached.
    outcomes = {o.scenario: o for o in run_outcomes(record)}
    assert list(outcomes) == ["peak", "breaking-point"]
    died_in = {"scale": None, "load": "peak", "stress": "breaking-point"}[phase]
    for name, outcome in outcomes.items():
        if name == died_in:
            assert outcome.status == "killed" and outcome.stopped_in, outcome
        elif died_in is None or (phase == "load" and name == "breaking-point"):
            assert outcome.sentence() == f"{name}: not run — the run stopped before it"
    assert outcomes["breaking-point"].missing is not None  # never an answer from a killed search
    rendered = render_report(run_dir)
    assert "no stress scenario" not in rendered.summary["verdict"]
    assert "no load scenario" not in rendered.summary["verdict"]
    for process in (run, status, restore):
        assert token not in process.output
    assert run.survivors() == []
