"""The capacity-plan report of a multi-formation run, rendered from a run directory written for real."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.capacity.planning import plan_for_run
from harness.measurements import SearchStatus
from harness.report import render_report
from harness.results import RunDir
from harness.results.model import RunRecord, upgrade
from tests.unit.plan_synthetic import PER_DYNO_RPS, breaking_point, formation, write_plan_run


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, object]]:
    path = write_plan_run(tmp_path_factory.mktemp("plan"), {n: PER_DYNO_RPS * n * 0.98 for n in (1, 2, 3, 4)})
    rendered = render_report(path, planner=plan_for_run)
    return path, rendered.html.read_text(), rendered.summary


def test_the_recommendation_sentence_comes_first(linear_run: tuple[Path, str, dict[str, object]]) -> None:
    _, html, _ = linear_run
    first = re.search(r'<p class="verdict[^"]*" id="recommendation">([^<]+)</p>', html)
    assert first is not None
    sentence = first.group(1)
    assert sentence.startswith(
        "3 × Standard-1X holds the expected 200 req/s with 1.25× headroom (lower bound "
    )
    assert "for $75.00/month; 2 dynos would not" in sentence
    assert html.index('id="recommendation"') < html.index('id="formations"') < html.index('id="how"')
    assert "one dyno a minute" in html
    assert "GET /dyno-sizes" in html  # which prices were used


def test_charts_and_tables_show_the_curve_and_the_costs(
    linear_run: tuple[Path, str, dict[str, object]],
) -> None:
    _, html, _ = linear_run
    assert '<svg class="chart" role="img" aria-label="Capacity vs dynos"' in html
    assert '<svg class="chart" role="img" aria-label="Scaling efficiency"' in html
    assert "USL fit" in html and "linear ideal" in html and "peak × headroom" in html
    rows = re.findall(
        r'<tr data-formation="(\d) × Standard-1X" data-rps="([\d.]+)" data-efficiency="([\d.]+)"', html
    )
    assert [int(n) for n, _, _ in rows] == [1, 2, 3, 4]
    assert all(float(e) == pytest.approx(1.0) for _, _, e in rows)
    assert 'data-fit="rough"' in html and "Rough fit: 4 Standard-1X formations" in html
    assert "<script" not in html
    extrapolated = re.findall(
        r'data-formation="(\d+) × Standard-1X" data-meets="yes"><td>\1 × Standard-1X '
        r'<span class="badge muted">extrapolated',
        html,
    )
    assert extrapolated and all(int(n) > 4 for n in extrapolated)


def test_each_formation_keeps_its_own_results(linear_run: tuple[Path, str, dict[str, object]]) -> None:
    _, html, summary = linear_run
    assert "formations/1-1x-standard-1x/report.html" in html
    assert "formations/4-4x-standard-1x/report.html" in html
    assert html.count('<span class="badge fail">fail</span>') == 2  # 1 and 2 dynos fail their headroom
    assert "0.33 dyno-hours" in html  # (1 + 2 + 3 + 4) dynos × 2 minutes
    up_front = re.search(r'<p class="meta" id="test-cost-summary">([^<]+)</p>', html)
    assert up_front is not None and "0.33 dyno-hours over 4 formations, $0.0116" in up_front.group(1)
    assert html.index('id="test-cost-summary"') < html.index('id="recommendation"')
    formations = summary["formations"]
    assert isinstance(formations, list) and [f["dynos"] for f in formations] == [1, 2, 3, 4]
    plan = summary["capacity_plan"]
    assert isinstance(plan, dict)
    assert plan["recommendation"]["choice"]["dynos"] == 3
    assert plan["sizes"][0]["fit"]["quality"] == "rough"
    assert summary["verdict"] == plan["recommendation"]["sentence"]


def test_summary_and_junit_are_written(linear_run: tuple[Path, str, dict[str, object]]) -> None:
    path, _, _ = linear_run
    data = json.loads((path / "summary.json").read_text())
    assert data["capacity_plan"]["recommendation"]["required_rps"] == pytest.approx(250.0)
    junit = (path / "junit.xml").read_text()
    assert junit.count("<testcase") == 5 and 'failures="2"' in junit
    assert 'name="a formation holds the peak"' in junit


def test_a_bottleneck_is_said_and_no_more_dynos_recommended(tmp_path: Path) -> None:
    path = write_plan_run(tmp_path, {1: 100.0, 2: 196.0, 3: 201.0, 4: 203.0})
    rendered = render_report(path, planner=plan_for_run)
    html = rendered.html.read_text()
    assert "From 2 to 3 Standard-1X dynos capacity rose 3%" in html
    assert "shared bottleneck" in html
    assert "No formation measured holds the expected 200 req/s" in html
    assert "more Standard-1X dynos do not help" in html
    candidates = re.findall(r'<tr class="[^"]*" data-formation="(\d+) × Standard-1X"', html)
    assert candidates and max(int(n) for n in candidates) <= 2


def test_few_formations_get_efficiency_only_and_a_missing_point_is_named(tmp_path: Path) -> None:
    path = write_plan_run(tmp_path, {1: 100.0, 2: 190.0, 4: None})
    html = render_report(path, planner=plan_for_run).html.read_text()
    assert "a USL fit needs at least 4 different dyno counts" in html
    assert "Not in the curve: 4 × Standard-1X: no breaking point was measured" in html
    assert "Standard-1X: USL fit" not in html  # no fitted curve in the chart


def test_without_a_planner_the_report_says_there_is_no_plan(tmp_path: Path) -> None:
    path = write_plan_run(tmp_path, {1: 100.0, 2: 200.0})
    html = render_report(path).html.read_text()
    assert "No capacity plan" in html


def test_a_version_1_run_json_still_reads(tmp_path: Path) -> None:
    path = write_plan_run(tmp_path, {1: 100.0})
    data = json.loads((path / "run.json").read_text())
    for key in ("formations", "prices_source", "prices_as_of", "max_dynos_per_type"):
        data.pop(key)
    data["schema_version"] = 1
    record = RunRecord.model_validate(upgrade(data))
    assert record.schema_version == 2 and record.formations == []
    (path / "run.json").write_text(json.dumps(data))
    assert RunDir.open(path).record.formations == []


def test_repeats_of_a_formation_make_one_point_with_their_range(tmp_path: Path) -> None:
    path = write_plan_run(tmp_path, {1: 100.0, 2: 200.0})
    writer_record = RunDir.open(path).record
    repeats = [
        formation(2 + i, 2, rps).model_copy(update={"repeat": i + 1}) for i, rps in enumerate((180.0, 210.0))
    ]
    record = writer_record.model_copy(update={"formations": [*writer_record.formations, *repeats]})
    plan = plan_for_run(record)
    assert plan is not None
    [size] = plan.sizes
    two = next(f.point for f in size.formations if f.point.dynos == 2)
    assert two.source == "repeats" and len(two.repeats) == 3
    # Each repeat's centre is its bracket's midpoint (×1.05): the median and the range of the three.
    assert two.rps == pytest.approx(200.0 * 1.05)
    assert (two.low_rps, two.high_rps) == pytest.approx((180.0 * 1.05, 210.0 * 1.05))


def test_an_aborted_search_is_no_capacity_point(tmp_path: Path) -> None:
    path = write_plan_run(tmp_path, {1: 100.0, 2: 200.0})
    record = RunDir.open(path).record
    aborted = formation(2, 3, 150.0).model_copy(
        update={"breaking_point": breaking_point(150.0, status=SearchStatus.ABORTED)}
    )
    plan = plan_for_run(record.model_copy(update={"formations": [*record.formations, aborted]}))
    assert plan is not None
    assert [f.point.dynos for f in plan.sizes[0].formations] == [1, 2]
    assert plan.excluded == [
        "3 × Standard-1X: the search was aborted or interrupted before it bracketed the capacity."
    ]


def test_a_formation_measured_with_the_generator_limited_is_flagged(tmp_path: Path) -> None:
    path = write_plan_run(tmp_path, {1: 100.0, 2: 200.0})
    record = RunDir.open(path).record
    note = "3 of 5 judged steps were measured with the load generator lagging or saturated: …"
    flagged = [record.formations[0], record.formations[1].model_copy(update={"generator_note": note})]
    (path / "run.json").write_text(record.model_copy(update={"formations": flagged}).model_dump_json())
    rendered = render_report(path, planner=plan_for_run)
    html = rendered.html.read_text()
    assert f'<p class="finding generator-flag">2 × Standard-1X: {note}</p>' in html
    assert html.count("generator-limited") == 1
    assert rendered.summary["formations"][1]["generator_note"] == note
