"""summary.json, junit.xml and the `harness report` / `harness history` commands."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.capacity.verdict import judge_run
from harness.cli.app import cli
from harness.report import junit_xml, summary
from harness.results import RunDir, RunStatus, RunStore
from tests.unit.results_synthetic import AppModel, synthetic_load, synthetic_meta, synthetic_stress


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two finished runs (v51 passes; v52 fails its headroom) and one interrupted run."""
    root = tmp_path_factory.mktemp("reports")
    store = RunStore(root)
    app = AppModel()
    passing = store.create("harness-demo", synthetic_meta(release=51))
    passing.add_scenario(synthetic_load(app))
    passing.add_scenario(synthetic_stress(app))
    passing.finish(judge=judge_run)
    tight = store.create("harness-demo", synthetic_meta(release=52))
    tight.update(required_headroom=3.0)
    tight.add_scenario(synthetic_load(app))
    tight.add_scenario(synthetic_stress(app))
    tight.finish(judge=judge_run)
    store.create("harness-demo", synthetic_meta(release=53)).finish(
        RunStatus.INCOMPLETE, judge=judge_run, failure="SIGTERM"
    )
    return root


def run_of(reports: Path, release: int) -> RunDir:
    return next(RunDir.open(p) for p in reports.iterdir() if p.name.endswith(f"-v{release}"))


def test_summary_carries_the_verdict_and_every_check(reports: Path) -> None:
    data = summary(run_of(reports, 52))
    assert data["passed"] is False
    assert data["verdict"].endswith("below the required 3× headroom")
    assert [c["criterion"] for c in data["checks"]] == ["p95_ms", "error_ratio", "headroom"]
    headroom = data["checks"][-1]
    assert headroom["passed"] is False and headroom["threshold"] == 3.0
    assert data["failed_checks"] == ["headroom 2.06× < required 3×"]
    assert data["breaking_point"]["criterion"] == "p95_ms"
    json.dumps(data)  # plain JSON


def test_junit_has_one_case_per_slo_per_scenario_plus_headroom(reports: Path) -> None:
    root = ET.fromstring(junit_xml(run_of(reports, 52)))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"expected-load", "find-breaking-point", "headroom"}
    cases = [c.get("name") for c in suites["expected-load"].iter("testcase")]
    assert cases == ["p95 latency", "error ratio"]
    assert root.get("tests") == "3" and root.get("failures") == "1"
    failure = next(suites["headroom"].iter("failure"))
    assert failure.get("message") == "headroom: measured 2.06×, limit ≥ 3.00×"


def test_report_command_prints_the_json_summary_and_writes_files(reports: Path) -> None:
    path = run_of(reports, 51).path
    result = CliRunner().invoke(cli, ["report", str(path), "--json", "--open-browser", "no"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["passed"] is True and data["release"] == 51
    assert (path / "report.html").exists() and (path / "junit.xml").exists()
    assert json.loads((path / "summary.json").read_text()) == data


def test_report_command_on_a_directory_that_is_not_a_run_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a run directory" in result.output


def test_history_table_lists_newest_first(reports: Path) -> None:
    result = CliRunner().invoke(cli, ["history", "--reports-dir", str(reports), "--app", "harness-demo"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["date", "(UTC)", "app"]
    assert [line.split()[3] for line in lines[1:]] == ["v53", "v52", "v51"]
    assert "incomplete" in lines[1] and "fail" in lines[2] and "pass" in lines[3]
    assert "124 req/s" in lines[2] and "2.06×" in lines[2]


def test_history_json_and_csv(reports: Path) -> None:
    runner = CliRunner()
    as_json = json.loads(runner.invoke(cli, ["history", "--reports-dir", str(reports), "--json"]).output)
    assert [r["release"] for r in as_json] == [53, 52, 51]
    assert as_json[1]["p95_at_expected_ms"] == 126.0
    text = runner.invoke(cli, ["history", "--reports-dir", str(reports), "--format", "csv"]).output
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["verdict"] for r in rows] == ["incomplete", "fail", "pass"]
    assert rows[2]["breaking_point_unit"] == "req/s"


def test_history_of_an_unknown_app_says_so(reports: Path) -> None:
    result = CliRunner().invoke(cli, ["history", "--reports-dir", str(reports), "--app", "nope"])
    assert result.exit_code == 0
    assert "No runs of nope" in result.output


def test_junit_reports_an_unfinished_run_as_an_error(reports: Path) -> None:
    root = ET.fromstring(junit_xml(run_of(reports, 53)))
    error = next(root.iter("error"))
    assert error.get("message") == "run incomplete: SIGTERM"
    assert root.get("errors") == "1"
    complete = ET.fromstring(junit_xml(run_of(reports, 51)))
    assert list(complete.iter("error")) == [] and complete.get("failures") == "0"
