"""The report of a multi-formation run: the capacity plan first, then each formation's results.

Renders from the run directory and the plan the caller computed from it
(`render_report(planner=capacity.planning.plan_for_run)`): this module draws
and words what the plan says, it never decides. Each formation keeps its own
run directory and full report under `formations/`; this report links none of
them (a report links nowhere) but names their paths.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from harness import __version__
from harness.measurements import BreakingPoint, SearchStatus
from harness.report import planning_charts
from harness.report.html import Chart, _banner, _environment, _event_row, _without_foreign_urls
from harness.results.model import FormationRun, RunRecord, RunStatus, format_number
from harness.results.rundir import RunDir

if TYPE_CHECKING:  # the plan's types only: the plan is computed by the caller (capacity.planning)
    from harness.capacity.planning import CapacityPlan, SizePlan

__all__ = ["plan_junit_xml", "plan_summary", "render_plan_html"]

_FIT_STEPS_PER_DYNO = 4  # the fitted curve is drawn through quarter-dyno points


def render_plan_html(run: RunDir, plan: CapacityPlan | None) -> str:
    """The multi-formation report as one self-contained HTML document."""
    template = _environment().get_template("plan.html.j2")
    html = template.render(**_context(run, plan))
    return _without_foreign_urls(html, run.record.platform.app_url)


def _context(run: RunDir, plan: CapacityPlan | None) -> dict[str, Any]:
    record = run.record
    return {
        "r": record,
        "title": f"{record.app} v{record.release.version}" if record.release.version else record.app,
        "banner": _banner(record),
        "plan": plan,
        "sizes": [_size_rows(s) for s in plan.sizes] if plan else [],
        "charts": _charts(plan) if plan else [],
        "formations": [_formation_row(f) for f in record.formations],
        "test_cost": _test_cost(record),
        "events": [_event_row(e) for e in run.events],
        "generated": datetime.now(UTC),
        "renderer_version": __version__,
    }


def _size_rows(size: SizePlan) -> dict[str, Any]:
    rows = []
    for f in size.formations:
        p = f.point
        rows.append(
            {
                "formation": p.describe(),
                "rps": p.rps,
                "low": p.low_rps,
                "high": p.high_rps,
                "source": p.source.value,
                "at_least": p.at_least,
                "efficiency": f.efficiency.efficiency if f.efficiency else None,
                "efficiency_low": f.efficiency.low if f.efficiency else None,
                "efficiency_high": f.efficiency.high if f.efficiency else None,
                "hourly": f.hourly_usd,
                "monthly": f.monthly_usd,
                "per_million": f.usd_per_million,
            }
        )
    return {
        "size": size.size,
        "quality": size.quality.value,
        "sentences": size.sentences,
        "fit": size.fit.describe() if size.fit else None,
        "rows": rows,
    }


def _curve(size: SizePlan, x_max: int) -> planning_charts.Curve:
    points = [(f.point.dynos, f.point.rps, f.point.low_rps, f.point.high_rps) for f in size.formations]
    base = size.formations[0].point if size.formations else None
    ideal = [(0.0, 0.0), (float(x_max), x_max * base.per_dyno_rps)] if base is not None else []
    fit = []
    if size.fit is not None:
        for step in range(_FIT_STEPS_PER_DYNO, x_max * _FIT_STEPS_PER_DYNO + 1):
            n = step / _FIT_STEPS_PER_DYNO
            low, high = size.fit.interval(n)
            fit.append((n, size.fit.predict(n), low, high))
    efficiency = [
        (f.point.dynos, f.efficiency.efficiency, f.efficiency.low, f.efficiency.high)
        for f in size.formations
        if f.efficiency is not None and len(size.formations) > 1
    ]
    return planning_charts.Curve(
        size=size.size,
        points=points,
        ideal=ideal,
        fit=fit,
        peak_dynos=size.fit.peak_dynos if size.fit else None,
        efficiency=efficiency,
    )


def _charts(plan: CapacityPlan) -> list[Chart]:
    considered = [c.dynos for c in plan.recommendation.candidates]
    measured = [f.point.dynos for s in plan.sizes for f in s.formations]
    x_max = max([*considered, *measured, 1])
    curves = [_curve(s, x_max) for s in plan.sizes]
    return [
        Chart(
            "Capacity vs dynos",
            "Breaking-point throughput of each formation (bars: its interval, from repeats or the search's "
            "bracket), the linear ideal (dotted), and, with 4 or more formations of a size, the fitted "
            "Universal Scalability Law with its 95 % band. The dashed red line is the expected peak × the "
            "required headroom.",
            planning_charts.capacity_chart(curves, plan.recommendation.required_rps),
        ),
        Chart(
            "Scaling efficiency",
            "Capacity per dyno relative to the smallest formation measured: X(n)·n₀ / (n·X(n₀)). "
            "100 % means every added dyno added a whole dyno's capacity.",
            planning_charts.efficiency_chart(curves),
        ),
    ]


def _formation_row(formation: FormationRun) -> dict[str, Any]:
    return {
        "formation": formation.describe(),
        "status": formation.status.value,
        "passed": formation.verdict.passed if formation.verdict else None,
        "failed_checks": formation.verdict.failed_checks if formation.verdict else [],
        "breaking_point": _breaking_text(formation.breaking_point),
        "scenario": formation.breaking_scenario,
        "duration_s": formation.duration_s,
        "cost_usd": formation.cost_usd,
        "report": f"{formation.dir}/report.html",
        "failure": formation.failure,
        "generator_note": formation.generator_note,
    }


def _breaking_text(point: BreakingPoint | None) -> str | None:
    """'1,150 req/s (bracket 40–44 users)' or what the search ended with."""
    if point is None:
        return None
    unit = point.mode.unit
    bracket = ""
    if point.bracket_low is not None and point.bracket_high is not None:
        bracket = (
            f" (between {format_number(point.bracket_low)} and {format_number(point.bracket_high)} {unit})"
        )
    if point.status == SearchStatus.FOUND and point.sustainable_rps is not None:
        return f"{format_number(point.sustainable_rps)} req/s{bracket}"
    if point.status == SearchStatus.NOT_REACHED:
        top = point.sustainable_rps if point.sustainable_rps is not None else point.level
        shown = "req/s" if point.sustainable_rps is not None else unit
        return f"not reached: held {format_number(top or 0)} {shown}, the search's maximum"
    if point.status == SearchStatus.BROKEN_AT_START:
        return "broke at the search's first level"
    if point.sustainable_rps is not None:
        return f"{format_number(point.sustainable_rps)} req/s, search {point.status}{bracket}"
    return f"search {point.status}"


def _test_cost(record: RunRecord) -> dict[str, Any]:
    """Dyno-hours and price of all formations (the test's own cost)."""
    hours = [f.dynos * f.duration_s / 3600 for f in record.formations if f.duration_s is not None]
    costs = [f.cost_usd for f in record.formations]
    known = bool(costs) and all(c is not None for c in costs)
    return {
        "dyno_hours": sum(hours) if hours else None,
        "usd": sum(c for c in costs if c is not None) if known else None,
    }


def plan_summary(run: RunDir, plan: CapacityPlan | None) -> dict[str, Any]:
    """summary.json of a multi-formation run: every formation's outcome and the capacity plan."""
    record = run.record
    advice = plan.recommendation if plan else None
    return {
        "run_id": record.run_id,
        "path": str(run.path),
        "app": record.app,
        "release": record.release.version,
        "status": record.status.value,
        "passed": bool(record.verdict and record.verdict.passed),
        "verdict": advice.sentence if advice else "No capacity plan: no formation was measured.",
        "expected_peak": record.expected_peak.model_dump(mode="json") if record.expected_peak else None,
        "required_headroom": record.required_headroom,
        "formations": [
            {
                "formation": f.describe(),
                "size": f.size,
                "dynos": f.dynos,
                "dir": f.dir,
                "status": f.status.value,
                "passed": f.verdict.passed if f.verdict else None,
                "breaking_point": f.breaking_point.model_dump(mode="json") if f.breaking_point else None,
                "duration_s": f.duration_s,
                "cost_usd": f.cost_usd,
                "generator_note": f.generator_note,
            }
            for f in record.formations
        ],
        "test_cost": _test_cost(record),
        "capacity_plan": plan.model_dump(mode="json") if plan else None,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
    }


def plan_junit_xml(run: RunDir, plan: CapacityPlan | None) -> str:
    """JUnit XML: a case per formation (its own verdict) and one for the capacity plan."""
    record = run.record
    suites = ET.Element("testsuites", name=f"harness capacity plan {record.app}")
    suite = ET.SubElement(suites, "testsuite", name="formations")
    failures = errors = 0
    for f in record.formations:
        case = ET.SubElement(suite, "testcase", classname=f"{record.app}.formations", name=f.describe())
        if f.status != RunStatus.COMPLETE:
            errors += 1
            ET.SubElement(case, "error", message=f"formation {f.status.value}: {f.failure or ''}".strip())
        elif f.verdict is not None and not f.verdict.passed:
            failures += 1
            ET.SubElement(case, "failure", message="; ".join(f.verdict.failed_checks) or "failed")
    case = ET.SubElement(suite, "testcase", classname=f"{record.app}.plan", name="a formation holds the peak")
    if plan is None or plan.recommendation.choice is None:
        failures += 1
        message = plan.recommendation.sentence if plan else "no capacity plan"
        ET.SubElement(case, "failure", message=message)
    suite.attrib.update(tests=str(len(record.formations) + 1), failures=str(failures), errors=str(errors))
    suites.attrib.update(tests=suite.attrib["tests"], failures=str(failures), errors=str(errors))
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
