"""The HTML report rendered from synthetic run directories written for real."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.capacity.verdict import judge_run
from harness.measurements import TOTAL
from harness.report import render_report
from harness.report.html import render_html
from harness.results import RunDir, RunStatus, RunStore, RunWriter
from tests.unit.results_synthetic import (
    CPU_WARNING,
    AppModel,
    synthetic_load,
    synthetic_meta,
    synthetic_stress,
)

URL = re.compile(r"https?://[^\s\"'<>]+", re.I)
CHART_LABELS = [
    "Throughput and users over time",
    "Latency percentiles over time",
    "Errors over time by kind",
    "Throughput vs offered load",
    "Latency vs throughput",
    "Latency distribution per endpoint",
]


@pytest.fixture
def writer(tmp_path: Path) -> RunWriter:
    return RunStore(tmp_path / "reports").create("harness-demo", synthetic_meta())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, str]:
    """A complete run with a load and a stress scenario, and its report (rendered once per module)."""
    writer = RunStore(tmp_path_factory.mktemp("reports")).create("harness-demo", synthetic_meta())
    run = full_run(writer)
    return run, render_html(run)


@pytest.fixture(scope="module")
def saturated(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report of a run whose load generator hit Locust's CPU warning."""
    writer = RunStore(tmp_path_factory.mktemp("reports")).create("harness-demo", synthetic_meta())
    return render_html(full_run(writer, cpu_warning=True))


def full_run(writer: RunWriter, *, cpu_warning: bool = False) -> RunDir:
    app = AppModel()
    writer.add_scenario(
        synthetic_load(app), {"name": "expected-load", "kind": "load", "slo": {"p95_ms": 300}}
    )
    writer.add_scenario(synthetic_stress(app, cpu_warning=cpu_warning))
    writer.finish(RunStatus.COMPLETE, judge=judge_run, test_duration_s=1800.0)
    return RunDir.open(writer.path)


def test_the_verdict_sentence_comes_first_in_the_stakeholders_words(rendered: tuple[RunDir, str]) -> None:
    _, html = rendered
    expected = (
        "Release v52 holds the expected peak of 60 req/s with p95 126 ms; it breaks at 124 req/s "
        "(2.1× headroom) on 4 × Standard-2X; breaking criterion: p95 latency"
    )
    assert expected in html
    order = [html.index(s) for s in ('id="verdict"', 'id="tested"', 'id="charts"', 'id="tables"', 'id="how"')]
    assert order == sorted(order)


def test_every_chart_is_an_inline_svg_and_nothing_points_outside(saturated: str) -> None:
    html = saturated
    for label in CHART_LABELS:
        assert f'<svg class="chart" role="img" aria-label="{label}"' in html
    assert html.count("<svg") == len(CHART_LABELS)
    foreign = [u for u in URL.findall(html) if not u.startswith("http://127.0.0.1:5001/")]
    assert foreign == []
    assert "<script" not in html and '<link rel="stylesheet"' not in html
    assert "docs.locust.io" in html  # Locust's advice is kept, just not as a URL


def test_ids_are_unique_and_every_svg_reference_resolves(saturated: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', saturated)
    assert len(ids) == len(set(ids))
    references = set(re.findall(r'href="#([^"]+)"', saturated)) | set(
        re.findall(r"url\(#([^)]+)\)", saturated)
    )
    assert references and references <= set(ids)


def test_slo_table_values_match_the_csvs(rendered: tuple[RunDir, str]) -> None:
    run, html = rendered
    judged = run.endpoints[(run.endpoints["window"] == "judged") & (run.endpoints["name"] == TOTAL)]
    p95 = float(judged["p95_ms"].iloc[0])
    ratio = float(judged["error_ratio"].iloc[0])
    assert f'data-criterion="p95_ms" data-value="{p95}"' in html
    assert f'data-criterion="error_ratio" data-value="{ratio}"' in html
    assert "PASS · expected-load: p95 latency" in html
    assert "PASS · find-breaking-point: headroom" in html


def test_tested_facts_and_costs_are_shown(rendered: tuple[RunDir, str]) -> None:
    _, html = rendered
    for text in (
        "v52 · Deploy 3f2c1ab",
        "3f2c1ab9d0e4",
        "web: 4 × Standard-2X ($0.2760/h)",
        "14.2 s until every dyno was up",
        "web.3 12.9 s",
        "30 min 00 s",  # test duration
        "$0.1380",  # 0.276 $/h × 0.5 h
        "48.0 MB",
    ):
        assert text in html, text


def test_cpu_saturation_is_surfaced_at_the_top(saturated: str) -> None:
    html = saturated
    banner = html.index("Load generator saturated")
    assert banner < html.index('id="verdict"')
    assert "step probe 3 was measured with the load generator saturated (96 % CPU)" in html
    assert CPU_WARNING.split(" See ")[0] in html


def test_per_endpoint_errors_and_steps_tables(rendered: tuple[RunDir, str]) -> None:
    run, html = rendered
    assert "GET /search" in html and "all endpoints" in html
    assert "503 Server Error: Service Unavailable (H12 Request timeout)" in html
    assert "ConnectionResetError" in html
    steps_table = html[html.index('id="steps"') :]
    for label in run.steps["label"]:
        assert f"<td>{label}</td>" in steps_table
    assert "broken: p95 latency" in steps_table


def test_an_incomplete_run_renders_with_a_banner_and_without_missing_parts(writer: RunWriter) -> None:
    writer.add_scenario(synthetic_load(AppModel()))
    writer.finish(RunStatus.INCOMPLETE, judge=judge_run, failure="interrupted (Ctrl-C)")
    html = render_html(RunDir.open(writer.path))
    assert "Incomplete run: interrupted (Ctrl-C)" in html
    assert "the breaking point was not searched (no stress scenario)" in html
    assert html.count("<svg") == len(CHART_LABELS)


def test_an_empty_run_still_renders_every_section(writer: RunWriter) -> None:
    html = render_html(RunDir.open(writer.path))
    assert "This run is still in progress" in html
    assert "was not tested at the expected peak of 60 req/s (no load scenario)" in html
    assert "No SLO was judged" in html and "No steps were recorded" in html
    assert html.count("<svg") == len(CHART_LABELS)


def test_a_failed_slo_is_said_plainly(writer: RunWriter) -> None:
    slow = AppModel(base_ms=120.0)
    writer.add_scenario(synthetic_load(slow))
    writer.finish(judge=judge_run)
    html = render_html(RunDir.open(writer.path))
    assert (
        "Release v52 on 4 × Standard-2X does not hold the expected peak of 60 req/s: "
        "p95 latency 380 ms &gt; 300 ms" in html
    )
    assert "FAIL · expected-load: p95 latency" in html


def test_text_from_the_run_is_escaped(writer: RunWriter) -> None:
    writer.update(release={"version": 52, "description": "<script>alert(1)</script>"})
    html = render_html(RunDir.open(writer.path))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_render_report_writes_the_three_files_into_the_run_dir(writer: RunWriter) -> None:
    writer.add_scenario(synthetic_load(AppModel()))
    writer.finish(judge=judge_run)
    run = RunDir.open(writer.path)
    rendered = render_report(run.path)
    assert rendered.html == run.path / "report.html"
    assert rendered.html.read_text().startswith("<!DOCTYPE html>")
    assert rendered.summary_json.exists() and rendered.junit_xml.exists()
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_a_metastability_finding_is_stated_in_report_summary_and_verdict(writer: RunWriter) -> None:
    from harness.measurements import Metastability
    from harness.report.machine import summary

    stress = synthetic_stress(AppModel())
    assert stress.breaking_point is not None
    evidence = "step 5: 100 req/s broke after an overload but held on a rested app"
    finding = Metastability(
        overload_step=2, overload_level=180.0, degraded_broken_level=100.0, degraded_rps=95.0,
        rested_rps=140.0, drain_s=10.0, evidence=[evidence],
    )  # fmt: skip
    point = stress.breaking_point.model_copy(update={"metastability": finding})
    writer.add_scenario(stress.model_copy(update={"breaking_point": point}))
    writer.finish(RunStatus.COMPLETE, judge=judge_run)
    run = RunDir.open(writer.path)
    html = render_html(run)
    sentence = "after an overload the app serves 95 req/s instead of 140 req/s"
    assert f"Metastable: {sentence}" in html
    assert evidence in html
    machine = summary(run)
    assert machine["metastability"] == sentence
    assert machine["breaking_point"]["metastability"]["rested_rps"] == 140.0
    assert f"metastable: {sentence}" in machine["verdict"]
    assert RunDir.open(writer.path).record.breaking_point == point  # run.json keeps it
