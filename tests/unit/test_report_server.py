"""The report's server-side section and summary.json figures, from a synthetic run written for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report import render_report
from harness.report.html import render_html
from harness.report.machine import summary
from harness.results import RunDir
from harness.serverview import Bottleneck, ServerView
from tests.unit.server_synthetic import synthetic_run, synthetic_server_log

SERVER_CHARTS = [
    "Router service time against client latency",
    "Requests per dyno",
    "Router errors (H codes) per step",
    "Memory per dyno",
    "Load average per dyno",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, ServerView, str]:
    run = synthetic_run(tmp_path_factory.mktemp("reports"))
    view = synthetic_server_log(run)
    return run, view, render_html(run)


def test_the_section_sits_after_the_charts_with_its_charts_and_diagnosis(
    served: tuple[RunDir, ServerView, str],
) -> None:
    _, view, html = served
    order = [html.index(s) for s in ('id="charts"', 'id="server"', 'id="tables"')]
    assert order == sorted(order)
    section = html[html.index('id="server"') : html.index('id="tables"')]
    for label in SERVER_CHARTS:
        assert f'<svg class="chart" role="img" aria-label="{label}"' in section
    assert view.diagnosis.text in section.replace("&#39;", "'")
    assert f'data-bottleneck="{view.diagnosis.bottleneck.value}"' in section
    assert (
        'id="server-steps"' in section and 'id="server-codes"' in section and 'id="server-dynos"' in section
    )
    assert "H12" in section and "GET /search" in section
    assert "crash" in section and "R14" in section and "restart" in section


def test_figures_match_the_log_written(served: tuple[RunDir, ServerView, str]) -> None:
    run, view, _ = served
    steps = run.steps
    assert len(view.steps) == len(steps)
    for step in view.steps:
        row = steps[(steps["scenario"] == step.scenario) & (steps["index"] == step.step)].iloc[0]
        assert step.router_requests == 120 + (0 if bool(row["ok"]) else 4)
        assert step.per_dyno["web.1"] + step.per_dyno["web.2"] == step.router_requests
        assert step.service_p50_ms == pytest.approx(round(0.6 * float(row["p50_ms"])), abs=0.5)
        assert step.queue_basis.value == "matched" and step.matched == 120
    assert view.stream.odd == 1 and "unreadable connect=" in view.stream.odd_examples[0]
    assert view.metrics_present and view.metrics_hint is None
    assert {e.kind for e in view.events} == {"crash", "restart", "R14"}


def test_summary_json_carries_the_server_figures(
    served: tuple[RunDir, ServerView, str], tmp_path: Path
) -> None:
    run, view, _ = served
    data = summary(run)["server"]
    assert data["diagnosis"]["bottleneck"] == view.diagnosis.bottleneck.value
    assert data["router_requests"] == view.router_requests and data["matched_requests"] == view.matched
    assert data["steps"][0]["service_p50_ms"] == view.steps[0].service_p50_ms
    assert data["codes"][0]["code"] == "H12" and data["codes"][0]["endpoint"] == "GET /search"
    assert {d["dyno"] for d in data["dynos"]} == {"web.1", "web.2"}
    json.dumps(data)  # JSON-able as is


def test_nothing_of_the_apps_output_reaches_the_run_or_report(served: tuple[RunDir, ServerView, str]) -> None:
    run, _, html = served
    for path in run.path.iterdir():
        if path.is_file():
            assert "do-not-store-me" not in path.read_text(errors="replace")
    assert "do-not-store-me" not in html


def test_a_run_without_a_log_stream_has_no_section(tmp_path: Path) -> None:
    run = synthetic_run(tmp_path / "reports")
    html = render_html(run)
    assert 'id="server"' not in html and summary(run)["server"] is None
    render_report(run.path)  # and the files are written as before


def test_missing_metrics_say_how_to_enable_them(tmp_path: Path) -> None:
    from harness.capacity.diagnosis import build_view
    from harness.results.server import write_server_view

    run = synthetic_run(tmp_path / "reports")
    write_server_view(run.path, build_view([], [], [], [], []))
    html = render_html(RunDir.open(run.path))
    assert "heroku labs:enable log-runtime-metrics" in html
    assert "No memory samples (runtime metrics are off)" in html
    assert build_view([], [], [], [], []).diagnosis.bottleneck is Bottleneck.NONE
