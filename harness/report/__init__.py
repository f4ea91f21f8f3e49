"""Reports rendered from a run directory only (never from live objects), so any past run re-renders.

`render_report(run_dir)` writes report.html (people), summary.json and
junit.xml (machines) into the run directory and returns their paths with the
summary. Matplotlib runs on the Agg backend through `Figure` objects only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.report.machine import junit_xml, summary
from harness.report.summary import verdict_sentence
from harness.results.model import RunRecord
from harness.results.store import RunDir, RunJudge, write_atomically

if TYPE_CHECKING:
    from harness.capacity.planning import CapacityPlan
    from harness.report.html import render_html

# Plans a multi-formation run (capacity.planning.plan_for_run); the report never plans by itself.
RunPlanner = Callable[[RunRecord], "CapacityPlan | None"]

__all__ = [
    "RenderedReport",
    "RunPlanner",
    "junit_xml",
    "render_html",
    "render_report",
    "summary",
    "verdict_sentence",
]


def __getattr__(name: str) -> Any:
    """`render_html` on first use: the HTML modules import matplotlib and pandas (about 1.5 s and a
    large heap), which a process that only generates load (`harness load`, a worker) never needs."""
    if name == "render_html":
        from harness.report.html import render_html

        return render_html
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


REPORT_HTML = "report.html"
SUMMARY_JSON = "summary.json"
JUNIT_XML = "junit.xml"


@dataclass(frozen=True)
class RenderedReport:
    """The files written for a run and its machine summary."""

    html: Path
    summary_json: Path
    junit_xml: Path
    summary: dict[str, Any]


def render_report(
    run_dir: str | Path,
    output_dir: str | Path | None = None,
    *,
    judge: RunJudge | None = None,
    planner: RunPlanner | None = None,
) -> RenderedReport:
    """Read a run directory and write its report, summary.json and junit.xml (default: into it).

    A run that was never judged (killed before it finished) is judged by `judge` for the
    report only; run.json is not rewritten. A multi-formation run gets the capacity-plan
    report, planned by `planner` (without one it says there is no plan)."""
    run = RunDir.open(run_dir)
    if run.record.verdict is None and judge is not None:
        run.record = run.record.model_copy(update={"verdict": judge(run.record)})
    target = Path(output_dir) if output_dir is not None else run.path
    target.mkdir(parents=True, exist_ok=True)
    if run.record.formations:
        return _render_plan(run, target, planner(run.record) if planner is not None else None)
    data = summary(run)
    paths = RenderedReport(
        html=target / REPORT_HTML,
        summary_json=target / SUMMARY_JSON,
        junit_xml=target / JUNIT_XML,
        summary=data,
    )
    from harness.report.html import render_html

    write_atomically(paths.html, render_html(run).encode())
    write_atomically(paths.summary_json, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())
    write_atomically(paths.junit_xml, junit_xml(run).encode())
    return paths


def _render_plan(run: RunDir, target: Path, plan: CapacityPlan | None) -> RenderedReport:
    """The report of a multi-formation run: the plan and every formation's outcome."""
    from harness.report.planning import plan_junit_xml, plan_summary, render_plan_html

    data = plan_summary(run, plan)
    paths = RenderedReport(
        html=target / REPORT_HTML,
        summary_json=target / SUMMARY_JSON,
        junit_xml=target / JUNIT_XML,
        summary=data,
    )
    write_atomically(paths.html, render_plan_html(run, plan).encode())
    write_atomically(paths.summary_json, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode())
    write_atomically(paths.junit_xml, plan_junit_xml(run, plan).encode())
    return paths
