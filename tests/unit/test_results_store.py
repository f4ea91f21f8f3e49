"""Run directories written for real under tmp_path and read back (STYLE §12)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.capacity.verdict import headroom, judge_run
from harness.errors import ResultsError
from harness.measurements import TOTAL
from harness.results import RunDir, RunStatus, RunStore, RunWriter, model
from harness.results.store import ENDPOINT_COLUMNS, ERROR_COLUMNS, STEP_COLUMNS, TIMESERIES_COLUMNS
from tests.unit.results_synthetic import AppModel, synthetic_load, synthetic_meta, synthetic_stress

TOKEN = "HRKU-0123456789abcdef-secret-token"


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "reports")


@pytest.fixture
def fresh_run_dir(store: RunStore) -> RunWriter:
    """A run just created: run.json 'running', empty CSVs."""
    return store.create("harness-demo", synthetic_meta())


@pytest.fixture
def finished_run(fresh_run_dir: RunWriter) -> RunDir:
    app = AppModel()
    fresh_run_dir.add_scenario(synthetic_load(app), {"name": "expected-load", "kind": "load"})
    fresh_run_dir.add_scenario(synthetic_stress(app))
    fresh_run_dir.finish(RunStatus.COMPLETE, judge=judge_run)
    return RunDir.open(fresh_run_dir.path)


def test_create_names_the_directory_by_time_app_and_release(fresh_run_dir: RunWriter) -> None:
    name = fresh_run_dir.path.name
    assert name.endswith("-harness-demo-v52")
    assert len(name.split("-")[0]) == len("20261129T121500Z")
    for file in ("run.json", "events.jsonl", "timeseries.csv", "steps.csv", "endpoints.csv", "errors.csv"):
        assert (fresh_run_dir.path / file).exists(), file


def test_two_runs_in_the_same_second_get_distinct_directories(store: RunStore) -> None:
    first = store.create("harness-demo", synthetic_meta())
    second = store.create("harness-demo", synthetic_meta(), now=first.record.started_at)
    assert first.path != second.path
    assert second.path.name == first.path.name + "-2"


def test_a_fresh_run_reads_back_running_with_empty_typed_frames(fresh_run_dir: RunWriter) -> None:
    run = RunDir.open(fresh_run_dir.path)
    assert run.record.status == RunStatus.RUNNING  # this very process is the writer, and it is alive
    assert list(run.timeseries.columns) == TIMESERIES_COLUMNS
    assert list(run.steps.columns) == STEP_COLUMNS
    assert run.timeseries.empty and run.steps.empty
    assert [e["event"] for e in run.events] == ["run_started"]


def test_scenarios_round_trip_through_run_json_and_csvs(finished_run: RunDir) -> None:
    record = finished_run.record
    assert record.status == RunStatus.COMPLETE
    assert [s.name for s in record.scenarios] == ["expected-load", "find-breaking-point"]
    load = record.scenarios[0]
    assert load.config == {"name": "expected-load", "kind": "load"}
    assert load.judged is not None
    assert record.breaking_point is not None and record.breaking_point.status == "found"
    assert record.verdict is not None and record.verdict.passed
    assert record.versions.harness and record.versions.python

    steps = finished_run.steps
    assert len(steps) == load.step_count + record.scenarios[1].step_count
    assert steps["index"].dtype == "Int64"
    stress_steps = steps[steps["scenario"] == "find-breaking-point"]
    assert set(stress_steps["kind"]) >= {"probe", "bisect", "confirm", "recovery"}
    assert not stress_steps["ok"].all()


def test_judged_window_is_in_endpoints_csv_with_the_total_row(finished_run: RunDir) -> None:
    frame = finished_run.endpoints
    assert list(frame.columns) == ENDPOINT_COLUMNS
    judged = frame[(frame["window"] == "judged") & (frame["name"] == TOTAL)]
    assert len(judged) == 1
    expected = finished_run.record.scenarios[0].judged
    assert expected is not None
    assert judged["p95_ms"].iloc[0] == expected.total.latency.p95_ms
    assert judged["requests"].iloc[0] == expected.total.requests


def test_errors_csv_keeps_kind_status_and_example(finished_run: RunDir) -> None:
    errors = finished_run.errors
    assert list(errors.columns) == ERROR_COLUMNS
    assert set(errors["kind"]) == {"HTTP 503", "ConnectionResetError"}
    http = errors[errors["kind"] == "HTTP 503"]
    assert (http["status"] == 503).all()
    assert errors["status"].dtype == "Int64"
    assert errors[errors["kind"] == "ConnectionResetError"]["status"].isna().all()
    assert http["example"].str.contains("H12").all()


def test_timeseries_csv_is_pandas_readable_per_second(finished_run: RunDir) -> None:
    series = finished_run.timeseries
    total = series[series["name"] == TOTAL]
    assert len(total) > 0
    assert total["ts"].diff().dropna().min() >= 1.0
    assert pd.read_csv(finished_run.path / "timeseries.csv").shape == series.shape


def test_events_are_appended_one_json_object_per_line(fresh_run_dir: RunWriter) -> None:
    fresh_run_dir.event("scale_requested", formation={"web": {"quantity": 4, "size": "Standard-2X"}})
    fresh_run_dir.event("dyno_up", dyno="web.2", after_s=11.8)
    lines = (fresh_run_dir.path / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["run_started", "scale_requested", "dyno_up"]


def test_a_line_cut_short_by_a_kill_is_skipped(fresh_run_dir: RunWriter) -> None:
    with open(fresh_run_dir.path / "events.jsonl", "a") as f:
        f.write('{"ts": 1, "event": "scale_req')
    assert [e["event"] for e in RunDir.open(fresh_run_dir.path).events] == ["run_started"]


def test_update_rewrites_run_json_atomically_and_leaves_no_temp_files(fresh_run_dir: RunWriter) -> None:
    fresh_run_dir.update(release={"version": 53, "commit": "abc1234"}, test_cost_usd=0.12)
    record = RunDir.open(fresh_run_dir.path).record
    assert record.release.version == 53 and record.release.commit == "abc1234"
    assert record.test_cost_usd == 0.12
    assert not [p for p in fresh_run_dir.path.iterdir() if p.name.endswith(".tmp")]


def test_update_refuses_the_fields_only_the_writer_sets(fresh_run_dir: RunWriter) -> None:
    with pytest.raises(TypeError, match="status"):
        fresh_run_dir.update(status="complete")
    with pytest.raises(TypeError, match=r"invalid run\.json fields"):
        fresh_run_dir.update(slug_size_bytes="big")


def test_no_token_or_config_var_value_reaches_the_disk(fresh_run_dir: RunWriter) -> None:
    config = {
        "name": "expected-load",
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "config_vars": {"DATABASE_URL": "postgres://user:pw@db/x"},
        "api_token": TOKEN,
    }
    fresh_run_dir.add_scenario(synthetic_load(AppModel()), config)
    fresh_run_dir.event("preflight", token=TOKEN, config_vars={"SECRET_KEY": "s3cr3t-value"})
    fresh_run_dir.finish(judge=judge_run)
    written = "".join(p.read_text() for p in fresh_run_dir.path.iterdir())
    for secret in (TOKEN, "postgres://user:pw@db/x", "s3cr3t-value"):
        assert secret not in written
    stored = RunDir.open(fresh_run_dir.path).record.scenarios[0].config
    assert stored["api_token"] == "[redacted]" and stored["config_vars"] == "[redacted]"
    assert stored["name"] == "expected-load"


def test_credentials_in_urls_are_dropped() -> None:
    platform = model.PlatformInfo(
        api_host="user:HRKU-secret@api.example.com", app_url="https://u:p@app.example.com/"
    )
    assert platform.api_host == "api.example.com"
    assert platform.app_url == "https://app.example.com/"
    assert model.PlatformInfo(app_url="http://127.0.0.1:5001/").app_url == "http://127.0.0.1:5001/"


def test_context_manager_finishes_failed_on_error_and_incomplete_on_ctrl_c(store: RunStore) -> None:
    with pytest.raises(ValueError), store.create("harness-demo", synthetic_meta()) as run:
        raise ValueError("boom")
    assert RunDir.open(run.path).record.status == RunStatus.FAILED
    assert RunDir.open(run.path).record.failure == "ValueError: boom"
    with pytest.raises(KeyboardInterrupt), store.create("harness-demo", synthetic_meta()) as run:
        raise KeyboardInterrupt
    assert RunDir.open(run.path).record.status == RunStatus.INCOMPLETE


def test_a_running_run_whose_writer_is_gone_reads_as_incomplete(fresh_run_dir: RunWriter) -> None:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(child.stdout)
    data = json.loads((fresh_run_dir.path / "run.json").read_text())
    data["writer"]["pid"] = dead_pid
    (fresh_run_dir.path / "run.json").write_text(json.dumps(data))
    record = RunDir.open(fresh_run_dir.path).record
    assert record.status == RunStatus.INCOMPLETE
    assert f"pid {dead_pid}" in (record.failure or "")


def test_a_reused_pid_is_not_mistaken_for_the_writer(fresh_run_dir: RunWriter) -> None:
    data = json.loads((fresh_run_dir.path / "run.json").read_text())
    data["writer"]["pid_started_ts"] -= 3600  # our pid, but a process started an hour earlier
    (fresh_run_dir.path / "run.json").write_text(json.dumps(data))
    assert RunDir.open(fresh_run_dir.path).record.status == RunStatus.INCOMPLETE


def test_history_lists_newest_first_and_filters_by_app(store: RunStore, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    app = AppModel()
    for day, release in ((1, 50), (3, 52), (2, 51)):
        run = store.create(
            "harness-demo", synthetic_meta(release=release), now=datetime(2026, 11, day, tzinfo=UTC)
        )
        run.add_scenario(synthetic_load(app))
        run.add_scenario(synthetic_stress(app))
        run.finish(judge=judge_run)
    store.create("other-app", synthetic_meta(release=9)).finish(
        "failed", failure="scale-up failed", judge=judge_run
    )
    (store.reports_dir / "not-a-run").mkdir()

    runs = store.history(app="harness-demo")
    assert [r.release for r in runs] == [52, 51, 50]
    assert runs[0].verdict == "pass"
    assert runs[0].breaking_point == pytest.approx(123.75)
    assert runs[0].breaking_point_unit == "req/s"
    assert runs[0].p95_at_expected_ms == 126.0
    assert runs[0].headroom == pytest.approx(123.75 / 60)
    everything = store.history()
    assert len(everything) == 4
    assert next(r for r in everything if r.app == "other-app").verdict == "failed"


def test_history_of_an_empty_or_missing_reports_dir_is_empty(tmp_path: Path) -> None:
    assert RunStore(tmp_path / "nowhere").history() == []


def test_open_a_directory_without_run_json_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="harness history"):
        RunDir.open(tmp_path)


def test_a_newer_schema_version_is_refused_with_advice(fresh_run_dir: RunWriter) -> None:
    data = json.loads((fresh_run_dir.path / "run.json").read_text())
    data["schema_version"] = model.SCHEMA_VERSION + 1
    (fresh_run_dir.path / "run.json").write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="Upgrade harness"):
        RunDir.open(fresh_run_dir.path)


def test_upgrades_lift_old_versions_one_step_at_a_time() -> None:
    seen: list[int] = []

    def lift(version: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def step(data: dict[str, Any]) -> dict[str, Any]:
            seen.append(version)
            return {**data, f"from_{version}": True}

        return step

    lifted = model.upgrade({"schema_version": 1, "run_id": "x"}, {1: lift(1), 2: lift(2)}, target=3)
    assert lifted == {"schema_version": 3, "run_id": "x", "from_1": True, "from_2": True}
    assert seen == [1, 2]
    assert model.upgrade({"schema_version": 2}, {2: lift(2)}, target=3)["schema_version"] == 3
    with pytest.raises(RuntimeError, match="no upgrade registered"):
        model.upgrade({"schema_version": 1}, {}, target=2)
    with pytest.raises(ResultsError, match="schema_version"):
        model.upgrade({"run_id": "x"})


def test_every_registered_upgrade_leads_to_the_current_version() -> None:
    assert set(model.UPGRADES) == set(range(1, model.SCHEMA_VERSION))


def test_headroom_compares_in_the_expected_peaks_unit(finished_run: RunDir) -> None:
    record = finished_run.record
    point = record.breaking_point
    assert point is not None and point.level is not None
    assert headroom(record) == pytest.approx(point.level / 60.0)
    users_peak = record.model_copy(update={"expected_peak": model.LevelInfo(mode="users", value=24)})
    load = record.expected_load_scenario()
    assert load is not None and load.judged is not None
    assert headroom(users_peak) == pytest.approx(point.sustainable_rps / load.judged.total.rps)  # type: ignore[operator]


def test_the_public_surface_is_pinned() -> None:
    import harness.report
    import harness.results

    assert {"RunStore", "RunWriter", "RunDir", "RunSummary", "RunMeta", "RunRecord", "RunStatus"} <= set(
        harness.results.__all__
    )
    assert {"render_report", "render_html", "summary", "junit_xml", "verdict_sentence"} <= set(
        harness.report.__all__
    )
    for module in (harness.results, harness.report):
        for name in module.__all__:
            assert getattr(module, name) is not None, name
