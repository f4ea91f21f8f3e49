"""The capacity-plan report in a real browser: no errors, no requests, both charts, fits a phone.

Screenshots go to the `artifacts_dir` folder (plan-report.png, plan-report-phone.png).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.capacity.planning import plan_for_run
from harness.report import render_report
from tests.integration.browser import DevTools, evaluate, needs_chromium, open_page, page_errors, screenshot
from tests.unit.plan_synthetic import PER_DYNO_RPS, write_plan_run

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def plan_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    figures = {n: PER_DYNO_RPS * n * (1 - 0.02 * n) for n in (1, 2, 3, 4, 6)}
    path = write_plan_run(tmp_path_factory.mktemp("plan-report"), dict(figures))
    return render_report(path, planner=plan_for_run).html


def test_the_plan_report_loads_without_errors_or_requests(
    chromium: DevTools, plan_report: Path, artifacts_dir: Path
) -> None:
    url = plan_report.resolve().as_uri()
    session = open_page(chromium, url, width=1200)
    assert page_errors(chromium) == []
    assert chromium.of("Network.loadingFailed") == []
    requested = {e["params"]["request"]["url"] for e in chromium.of("Network.requestWillBeSent")}
    assert requested <= {url}
    labels = evaluate(
        chromium,
        session,
        "[...document.querySelectorAll('svg.chart')].map(s => s.getAttribute('aria-label'))",
    )
    assert labels == ["Capacity vs dynos", "Scaling efficiency"]
    first = evaluate(chromium, session, "document.querySelector('p.verdict').id")
    assert first == "recommendation"
    sentence = evaluate(chromium, session, "document.getElementById('recommendation').innerText")
    assert "holds the expected 200 req/s with 1.25× headroom" in sentence
    visible = evaluate(
        chromium, session, "document.getElementById('recommendation').getBoundingClientRect().top < 400"
    )
    assert visible  # the answer is on the first screen
    screenshot(chromium, session, 1200, artifacts_dir / "plan-report.png")
    assert (artifacts_dir / "plan-report.png").stat().st_size > 10_000


def test_on_a_phone_the_plan_report_does_not_scroll_sideways(
    chromium: DevTools, plan_report: Path, artifacts_dir: Path
) -> None:
    session = open_page(chromium, plan_report.resolve().as_uri(), width=390)
    overflow = evaluate(
        chromium, session, "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    screenshot(chromium, session, 390, artifacts_dir / "plan-report-phone.png")
