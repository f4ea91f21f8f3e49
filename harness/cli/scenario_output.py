"""One renderer for a scenario's result, for `harness load` and `harness stress`: table, CSV, JSON.

The table says the status, why it stopped early, the judged window and each
verdict, the breaking point and the recovery, then one row per measured
step; the CSV has one row per step with the same columns as the table's
steps (written with the csv module, so labels with commas stay one field);
JSON is the whole `ScenarioResult`.
"""

from __future__ import annotations

import csv
import io

from harness.measurements import BreakingPoint, Recovery, ScenarioResult, StepRecord
from harness.report.outcomes import result_outcome

__all__ = ["STEP_COLUMNS", "describe_breaking_point", "render_result", "step_rows"]

STEP_COLUMNS = (
    "step",
    "kind",
    "label",
    "level",
    "users",
    "offered_rps",
    "achieved_rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "error_ratio",
    "ok",
    "broken_by",
)


def render_result(result: ScenarioResult, output_format: str = "table") -> str:
    """The result as `table`, `csv` or `json`."""
    if output_format == "json":
        return result.model_dump_json(indent=2)
    if output_format == "csv":
        return _steps_csv(result)
    return _table(result)


def describe_breaking_point(point: BreakingPoint) -> list[str]:
    """Human lines for a breaking point: the answer, the bracket, what broke, the load time."""
    unit = point.mode.unit
    lines = [f"breaking point: {point.status.replace('_', ' ')}"]
    if point.level is not None:
        lines.append(
            f"  sustainable: {point.sustainable_rps:g} req/s at {point.level:g} {unit}"
            if point.sustainable_rps is not None
            else f"  level: {point.level:g} {unit}"
        )
    if point.bracket_high is not None:
        low = f"{point.bracket_low:g}" if point.bracket_low is not None else "–"
        lines.append(f"  bracket: [{low}, {point.bracket_high:g}] {unit} (tolerance {point.tolerance:.0%})")
    if point.criterion_detail is not None:
        lines.append(f"  broke first: {point.criterion_detail.describe()}")
    idle = f" (+ {point.idle_time_s:.1f} s of drains without load)" if point.idle_time_s else ""
    lines.append(f"  load time: {point.load_time_s:.1f} s{idle}")
    if point.metastability is not None:
        lines.append(f"  METASTABLE: {point.metastability.sentence(point.mode)}")
        lines += [f"    {evidence}" for evidence in point.metastability.evidence]
    return lines


def _recovery_line(rec: Recovery) -> str:
    if rec.recovered and rec.time_to_recover_s is not None:
        return (
            f"  recovery at {rec.level:g}: the SLOs held again {rec.time_to_recover_s:.1f} s after the drop"
        )
    return f"  recovery at {rec.level:g}: NOT within {rec.limit_s:g} s"


def _judged_line(result: ScenarioResult) -> list[str]:
    w = result.judged
    if w is None:
        return []
    offered = f"offered {w.offered_rps:g} req/s, " if w.offered_rps is not None else ""
    lat = w.total.latency
    return [
        f"  judged {w.duration_s:.1f} s: {offered}achieved {w.achieved_rps:.1f} req/s, "
        f"p50 {lat.p50_ms} ms, p95 {lat.p95_ms} ms, p99 {lat.p99_ms} ms, errors {w.total.error_ratio:.2%}"
    ]


def _step_verdict(record: StepRecord) -> str:
    if record.ok:
        return "ok" if record.verdicts else "not judged"
    return f"BROKEN ({record.broken_by})" if record.broken_by else "ignored"


def _step_line(record: StepRecord) -> str:
    w = record.window
    return (
        f"    {w.plan.index:>3} {w.plan.label or w.plan.kind:<28} level {w.plan.level:>8g}  "
        f"achieved {w.achieved_rps:>8.1f} req/s  p95 {w.total.latency.p95_ms or 0:>6g} ms  "
        f"errors {w.total.error_ratio:>6.1%}  {_step_verdict(record)}"
    )


def _table(result: ScenarioResult) -> str:
    lines = [f"{result.name} ({result.kind}): {result.status.upper()}"]
    if result.abort_reason:
        lines.append(f"  stopped: {result.abort_reason}")
    outcome = result_outcome(result)
    if outcome.stopped_in is not None:  # what it did and did not do: 'interrupted during probe 2 — …'
        lines.append(f"  {outcome.sentence()}")
    lines += _judged_line(result)
    for verdict in result.verdicts:
        missed = f" (missed by {verdict.miss_ratio:.0%})" if verdict.miss_ratio is not None else ""
        lines.append(f"  {'PASS' if verdict.passed else 'FAIL'} {verdict.describe()}{missed}")
    if result.breaking_point is not None:
        lines += ["  " + line for line in describe_breaking_point(result.breaking_point)]
    if result.recovery is not None:
        lines.append(_recovery_line(result.recovery))
    if result.steps:
        lines.append("  steps:")
        lines += [_step_line(record) for record in result.steps]
    lines += [f"  warning: {warning}" for warning in result.cpu_warnings]
    return "\n".join(lines)


def step_rows(result: ScenarioResult) -> list[list[object]]:
    """One row per measured step, in `STEP_COLUMNS` order (None for a figure not measured)."""
    rows: list[list[object]] = []
    for record in result.steps:
        w = record.window
        lat = w.total.latency
        rows.append(
            [
                w.plan.index,
                w.plan.kind.value,
                w.plan.label,
                w.plan.level,
                w.users,
                w.offered_rps,
                round(w.achieved_rps, 3),
                lat.p50_ms,
                lat.p95_ms,
                lat.p99_ms,
                round(w.total.error_ratio, 5),
                record.ok,
                record.broken_by,
            ]
        )
    return rows


def _steps_csv(result: ScenarioResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STEP_COLUMNS)
    writer.writerows([["" if cell is None else cell for cell in row] for row in step_rows(result)])
    return out.getvalue().rstrip("\n")
