"""The report's server-side section in headless Chromium: charts drawn, no errors, fits a phone."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.report import render_report
from tests.integration.browser import DevTools, evaluate, needs_chromium, open_page, screenshot
from tests.unit.server_synthetic import synthetic_run, synthetic_server_log

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = synthetic_run(tmp_path_factory.mktemp("reports"))
    synthetic_server_log(run)
    return render_report(run.path).html


def test_the_server_section_renders_in_a_browser(
    chromium: DevTools, report_file: Path, artifacts_dir: Path
) -> None:
    url = report_file.resolve().as_uri()
    session = open_page(chromium, url, width=1200)
    errors = [
        e for e in chromium.of("Runtime.consoleAPICalled") if e["params"]["type"] in {"error", "assert"}
    ]
    errors += chromium.of("Runtime.exceptionThrown")
    assert errors == [] and chromium.of("Network.loadingFailed") == []
    assert evaluate(chromium, session, "document.querySelectorAll('#server svg.chart').length") == 5
    # Every chart is drawn with a real size (not collapsed), and the diagnosis is visible text.
    heights = evaluate(
        chromium,
        session,
        "[...document.querySelectorAll('#server svg.chart')].map(s => s.getBoundingClientRect().height)",
    )
    assert isinstance(heights, list) and all(h > 150 for h in heights)
    diagnosis = evaluate(chromium, session, "document.querySelector('#server .diagnosis').innerText")
    assert isinstance(diagnosis, str) and "bottleneck the data supports" in diagnosis
    odd = evaluate(chromium, session, "document.querySelector('#odd-lines').innerText")
    assert odd == "1 (counted and skipped)"
    order = evaluate(
        chromium,
        session,
        "['charts','server','tables'].map(id => document.getElementById(id).getBoundingClientRect().top)",
    )
    assert isinstance(order, list) and order == sorted(order)
    screenshot(chromium, session, 1200, artifacts_dir / "report-server.png")
    assert (artifacts_dir / "report-server.png").stat().st_size > 10_000


def test_on_a_phone_the_server_tables_scroll_inside_their_box(
    chromium: DevTools, report_file: Path, artifacts_dir: Path
) -> None:
    session = open_page(chromium, report_file.resolve().as_uri(), width=390)
    overflow = evaluate(
        chromium, session, "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow == 0
    wide = evaluate(
        chromium,
        session,
        "[...document.querySelectorAll('#server table')].filter(t => !t.closest('.scroll')).length",
    )
    assert wide == 0
    screenshot(chromium, session, 390, artifacts_dir / "report-server-phone.png")
