"""The report in a real browser: headless Chromium over the DevTools protocol.

Checks what a reader's browser would do with the file: no console errors, no
request other than the file itself (so none can fail), no horizontal scrolling
on a phone-sized screen. Screenshots go to the `artifacts_dir` fixture's folder
($HARNESS_TEST_ARTIFACTS, which .ci/run sets: report.png at desktop width,
report-phone.png at 390 px, report.pdf) for people to look at.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from harness.capacity.verdict import judge_run
from harness.report import render_report
from harness.results import RunStatus, RunStore
from tests.integration.browser import DevTools, needs_chromium, open_page, screenshot
from tests.unit.results_synthetic import (
    CPU_WARNING,
    AppModel,
    synthetic_load,
    synthetic_meta,
    synthetic_stress,
)

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full report (load, stress with a CPU warning and errors) rendered from a run directory."""
    app = AppModel()
    run = RunStore(tmp_path_factory.mktemp("reports")).create(
        "harness-demo", synthetic_meta(cpu_warnings=[CPU_WARNING])
    )
    run.add_scenario(synthetic_load(app), {"name": "expected-load", "kind": "load"})
    run.add_scenario(synthetic_stress(app, cpu_warning=True))
    run.finish(RunStatus.COMPLETE, judge=judge_run, test_duration_s=900.0)
    return render_report(run.path).html


def test_the_report_loads_without_errors_or_requests_and_is_screenshotted(
    chromium: DevTools, report_file: Path, artifacts_dir: Path
) -> None:
    url = report_file.resolve().as_uri()
    session = open_page(chromium, url, width=1200)
    errors = [
        e for e in chromium.of("Runtime.consoleAPICalled") if e["params"]["type"] in {"error", "assert"}
    ]
    errors += chromium.of("Runtime.exceptionThrown")
    errors += [e for e in chromium.of("Log.entryAdded") if e["params"]["entry"]["level"] == "error"]
    assert errors == []
    assert chromium.of("Network.loadingFailed") == []
    requested = {e["params"]["request"]["url"] for e in chromium.of("Network.requestWillBeSent")}
    assert requested <= {url}
    charts = chromium.send(
        "Runtime.evaluate",
        session,
        expression="document.querySelectorAll('svg.chart').length",
        returnByValue=True,
    )
    assert charts["result"]["value"] == 6
    screenshot(chromium, session, 1200, artifacts_dir / "report.png")
    assert (artifacts_dir / "report.png").stat().st_size > 10_000


def test_the_report_prints(chromium: DevTools, report_file: Path, artifacts_dir: Path) -> None:
    session = open_page(chromium, report_file.resolve().as_uri(), width=1200)
    pdf = base64.b64decode(chromium.send("Page.printToPDF", session, printBackground=True)["data"])
    assert pdf.startswith(b"%PDF")
    (artifacts_dir / "report.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 3  # the whole report, on A4/Letter pages


def test_on_a_phone_the_page_does_not_scroll_sideways(
    chromium: DevTools, report_file: Path, artifacts_dir: Path
) -> None:
    session = open_page(chromium, report_file.resolve().as_uri(), width=390)
    overflow = chromium.send(
        "Runtime.evaluate",
        session,
        expression="document.documentElement.scrollWidth - document.documentElement.clientWidth",
        returnByValue=True,
    )
    assert overflow["result"]["value"] <= 0
    screenshot(chromium, session, 390, artifacts_dir / "report-phone.png")
