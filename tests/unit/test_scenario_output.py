"""One renderer for `harness load` and `harness stress`: the same columns in the table and the CSV."""

from __future__ import annotations

import csv
import io

from harness.cli.scenario_output import STEP_COLUMNS, render_result
from harness.measurements import (
    TOTAL,
    BreakingPoint,
    EndpointWindow,
    LevelMode,
    Percentiles,
    ScenarioResult,
    StepKind,
    StepPlan,
    StepRecord,
    StepWindow,
    Verdict,
)


def window(index: int, level: float, p95: float, label: str) -> StepWindow:
    plan = StepPlan(
        index=index, kind=StepKind.PROBE, level=level, mode=LevelMode.ARRIVAL_RATE, hold_s=4, label=label
    )
    total = EndpointWindow(
        method="",
        name=TOTAL,
        requests=int(level * 4),
        failures=0,
        rps=level,
        failures_per_s=0.0,
        error_ratio=0.0,
        latency=Percentiles(p50_ms=p95 / 2, p95_ms=p95, p99_ms=p95 * 2),
    )
    return StepWindow(plan=plan, start_ts=0, end_ts=4, users=3, offered_rps=level, total=total)


def result() -> ScenarioResult:
    broken = Verdict(criterion="p95_ms", threshold=300, measured=900, passed=False, unit="ms")
    steps = [
        StepRecord(
            window=window(0, 20, 40, "probe 1"), verdicts=[broken.model_copy(update={"passed": True})]
        ),
        StepRecord(
            window=window(1, 60, 900, "probe 2, re-test"), verdicts=[broken], ok=False, broken_by="p95_ms"
        ),
    ]
    point = BreakingPoint(
        status="found", mode=LevelMode.ARRIVAL_RATE, level=20, sustainable_rps=20, load_time_s=10
    )
    return ScenarioResult(
        name="push",
        kind="stress",
        mode=LevelMode.ARRIVAL_RATE,
        status="passed",
        started_ts=0,
        ended_ts=10,
        steps=steps,
        breaking_point=point,
        cpu_warnings=["generator CPU 95%"],
    )


def test_csv_has_one_row_per_step_with_the_shared_columns_and_quotes_commas() -> None:
    rows = list(csv.reader(io.StringIO(render_result(result(), "csv"))))
    assert tuple(rows[0]) == STEP_COLUMNS
    assert len(rows) == 3
    second = dict(zip(STEP_COLUMNS, rows[2], strict=True))
    assert second["label"] == "probe 2, re-test"  # one field, not two
    assert (second["kind"], second["ok"], second["broken_by"], second["p95_ms"]) == (
        "probe",
        "False",
        "p95_ms",
        "900.0",
    )


def test_table_shows_status_breaking_point_steps_and_warnings() -> None:
    table = render_result(result(), "table")
    assert table.splitlines()[0] == "push (stress): PASSED"
    assert "  breaking point: found" in table and "sustainable: 20 req/s at 20 req/s" in table
    assert "probe 2, re-test" in table and "BROKEN (p95_ms)" in table
    assert table.splitlines()[-1] == "  warning: generator CPU 95%"


def test_json_is_the_whole_result() -> None:
    assert ScenarioResult.model_validate_json(render_result(result(), "json")) == result()
