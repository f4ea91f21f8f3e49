"""Outputs for machines: summary.json, junit.xml, and the `harness report --json` summary.

junit.xml has one test suite per scenario with one test case per SLO (a
failed SLO is a <failure> naming measured value and limit), the headroom
check in a suite of its own, and, for a run that did not complete, a 'run
completed' case in error; CI systems show it like any test report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from harness.measurements import RunVerdict
from harness.report.outcomes import run_outcomes
from harness.report.server_section import server_figures
from harness.report.summary import Check, checks, metastability_text, verdict_sentence
from harness.results.model import RunStatus
from harness.results.store import RunDir

__all__ = ["junit_xml", "summary"]


def summary(run: RunDir) -> dict[str, Any]:
    """The run's answer as plain JSON-able data (what summary.json and `--json` contain)."""
    record = run.record
    verdict = record.verdict or RunVerdict(passed=False, slos_passed=False)  # never judged: not a pass
    point = record.breaking_point
    return {
        "run_id": record.run_id,
        "path": str(run.path),
        "app": record.app,
        "release": record.release.version,
        "commit": record.release.commit,
        "status": record.status.value,
        "passed": verdict.passed,
        "verdict": verdict_sentence(record),
        "failed_checks": verdict.failed_checks,
        "expected_peak": record.expected_peak.model_dump(mode="json") if record.expected_peak else None,
        "required_headroom": record.required_headroom,
        "headroom": verdict.headroom,
        "p95_at_expected_ms": record.p95_at_expected_ms(),
        "breaking_point": point.model_dump(mode="json") if point else None,
        "metastability": metastability_text(record),
        "formation_tested": [g.model_dump(mode="json") for g in record.formation_tested],
        "cost_per_hour_usd": record.tested_cost_per_hour_usd,
        "test_duration_s": record.duration_s,
        "test_cost_usd": record.estimated_cost_usd,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat() if record.ended_at else None,
        "checks": [_check_json(c) for c in checks(record)],
        "cpu_warnings": list(record.load_generator.cpu_warnings)
        + [w for s in record.scenarios for w in s.cpu_warnings],
        "scenarios": [
            {"name": s.name, "kind": s.kind, "status": s.status, "passed": s.passed} for s in record.scenarios
        ],
        # Every planned scenario, with what it did and did not do ('interrupted during probe 2 — no
        # breaking point'); an interrupted or killed run says so per scenario.
        "scenario_outcomes": [o.as_json() for o in run_outcomes(record)],
        "server": server_figures(run),
    }


def _check_json(check: Check) -> dict[str, Any]:
    return {
        "scenario": check.scenario,
        "criterion": check.criterion,
        "endpoint": check.endpoint,
        "threshold": check.threshold,
        "measured": check.measured,
        "unit": check.unit,
        "passed": check.passed,
    }


def junit_xml(run: RunDir) -> str:
    """JUnit XML: a suite per scenario, a test case per SLO, plus the headroom check."""
    record = run.record
    suites = ET.Element("testsuites", name=f"harness capacity {record.app}")
    by_suite: dict[str, list[Check]] = {s.name: [] for s in record.scenarios}
    for check in checks(record):
        suite_name = "headroom" if check.criterion == "headroom" else check.scenario
        by_suite.setdefault(suite_name, []).append(check)
    for name, suite_checks in by_suite.items():
        _suite(suites, record.app, name, suite_checks, run)
    if record.status != RunStatus.COMPLETE:  # CI must notice a run that did not finish, even with no SLO
        _unfinished(suites, run)
    totals = {key: sum(int(s.get(key, "0")) for s in suites) for key in ("tests", "failures", "errors")}
    suites.attrib.update({key: str(value) for key, value in totals.items()})
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _suite(parent: ET.Element, app: str, name: str, suite_checks: list[Check], run: RunDir) -> None:
    scenario = next((s for s in run.record.scenarios if s.name == name), None)
    failures = sum(not c.passed for c in suite_checks)
    errors = 1 if scenario is not None and scenario.status.ended_early else 0
    tests = len(suite_checks) + errors
    duration = (scenario.ended_ts - scenario.started_ts) if scenario else 0.0
    suite = ET.SubElement(
        parent,
        "testsuite",
        name=name,
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
        time=f"{duration:.3f}",
    )
    for check in suite_checks:
        case = ET.SubElement(suite, "testcase", classname=f"{app}.{name}", name=check.label)
        if not check.passed:
            failure = ET.SubElement(case, "failure", message=_failure_message(check), type=check.criterion)
            failure.text = _failure_message(check)
    if errors and scenario is not None:
        case = ET.SubElement(suite, "testcase", classname=f"{app}.{name}", name="scenario completed")
        reason = scenario.abort_reason or scenario.status
        ET.SubElement(case, "error", message=f"scenario {scenario.status}: {reason}", type=scenario.status)


def _unfinished(parent: ET.Element, run: RunDir) -> None:
    record = run.record
    suite = ET.SubElement(parent, "testsuite", name="run", tests="1", failures="0", errors="1", time="0")
    case = ET.SubElement(suite, "testcase", classname=f"{record.app}.run", name="run completed")
    reason = record.failure or record.status.value
    ET.SubElement(case, "error", message=f"run {record.status.value}: {reason}", type=record.status.value)


def _failure_message(check: Check) -> str:
    limit = f"{check.relation} {check.show(check.threshold)}"
    return f"{check.label}: measured {check.show(check.measured)}, limit {limit}"
