"""Interrupted and killed runs say, per scenario, what was and was not done (issue 11).

Real run directories (RunStore under tmp_path): the scenarios a run planned are in its meta, each
step a scenario starts is recorded in run.json, so a run that stops anywhere can say where.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harness.cli.app import cli
from harness.cli.console import scenario_line
from harness.cli.scenario_output import render_result
from harness.measurements import (
    BreakingPoint,
    LevelMode,
    ScenarioKind,
    ScenarioResult,
    ScenarioStatus,
    SearchStatus,
    StepKind,
    StepPlan,
)
from harness.report import render_report
from harness.report.outcomes import result_outcome, run_outcomes
from harness.report.summary import verdict_sentence
from harness.results import RunDir, RunStatus, RunStore
from harness.results.model import PlannedScenario
from harness.results.writer import RunWriter
from tests.unit.results_synthetic import AppModel, synthetic_load, synthetic_meta, synthetic_stress

PLANNED = [
    PlannedScenario(name="expected-load", kind=ScenarioKind.LOAD),
    PlannedScenario(name="find-breaking-point", kind=ScenarioKind.STRESS),
    PlannedScenario(name="soak", kind=ScenarioKind.SOAK),
]


def _writer(tmp_path: Path) -> RunWriter:
    meta = synthetic_meta().model_copy(update={"planned_scenarios": PLANNED})
    return RunStore(tmp_path / "reports").create("harness-demo", meta)


def _interrupted_search() -> ScenarioResult:
    """A search stopped by Ctrl-C during its second probe: it had a last good level, no answer."""
    result = synthetic_stress(AppModel())
    steps = result.steps[:2]
    point = BreakingPoint(status=SearchStatus.ABORTED, mode=LevelMode.ARRIVAL_RATE, level=45.0)
    update = {"status": ScenarioStatus.INTERRUPTED, "steps": steps, "breaking_point": point, "recovery": None}
    return result.model_copy(update=update)


def test_an_interrupted_search_says_where_it_stopped_and_that_it_has_no_breaking_point(
    tmp_path: Path,
) -> None:
    run = _writer(tmp_path)
    run.add_scenario(synthetic_load(AppModel()))
    search = _interrupted_search()
    run.add_scenario(search)
    record = run.finish(RunStatus.INCOMPLETE, failure="interrupted")
    expected = (
        "find-breaking-point: interrupted during probe 2 — no breaking point (last good level 45 req/s)"
    )
    assert scenario_line(search) == result_outcome(search).sentence() == expected  # the terminal
    assert f"  {expected}" in render_result(search, "table").splitlines()  # `harness stress` / `load`
    lines = [o.sentence() for o in run_outcomes(record)]
    assert lines == ["expected-load: passed", expected, "soak: not run — the run stopped before it"]
    sentence = verdict_sentence(record)
    assert f"the breaking point was not found ({expected})" in sentence
    assert "breaking point ≈" not in sentence and "no stress scenario" not in sentence
    rendered = render_report(run.path)  # summary.json and the report's banner
    outcomes = rendered.summary["scenario_outcomes"]
    assert [o["status"] for o in outcomes] == ["passed", "interrupted", "not run"]
    assert outcomes[1]["stopped_in"] == "probe 2" and outcomes[1]["sentence"] == expected
    assert expected in rendered.html.read_text()


def test_a_killed_run_says_which_step_it_died_in_and_what_it_never_reached(tmp_path: Path) -> None:
    run = _writer(tmp_path)
    plan = StepPlan(index=0, kind=StepKind.HOLD, level=40, hold_s=30, label="hold 1/3")
    run.step_started("expected-load", ScenarioKind.LOAD, plan)
    # The process is gone without finishing (what kill -9 leaves): run.json says 'running', its
    # writer is not alive, so it reads as incomplete.
    record = RunDir.open(run.path).record.model_copy(update={"status": RunStatus.INCOMPLETE})
    lines = [o.sentence() for o in run_outcomes(record)]
    assert lines == [
        "expected-load: killed during hold 1/3 — SLOs not judged",
        "find-breaking-point: not run — the run stopped before it",
        "soak: not run — the run stopped before it",
    ]
    sentence = verdict_sentence(record)
    assert (
        "was not measured at the expected peak of 60 req/s (expected-load: killed during hold 1/3" in sentence
    )
    assert "no load scenario" not in sentence and "no stress scenario" not in sentence
    assert "the breaking point was not found (find-breaking-point: not run" in sentence


def test_a_killed_search_and_harness_report_of_it(tmp_path: Path) -> None:
    run = _writer(tmp_path)
    run.add_scenario(synthetic_load(AppModel()))
    plan = StepPlan(
        index=3, kind=StepKind.BISECT, level=70, mode=LevelMode.ARRIVAL_RATE, hold_s=4, label="bisect 1"
    )
    run.step_started("find-breaking-point", ScenarioKind.STRESS, plan)
    run.record = run.record.model_copy(update={"status": RunStatus.INCOMPLETE})
    run._save()
    result = CliRunner().invoke(cli, ["report", str(run.path)])
    assert result.exit_code == 0, result.output
    assert "find-breaking-point: killed during bisect 1 — no breaking point" in result.output
    assert "soak: not run — the run stopped before it" in result.output
    assert "expected-load: passed" not in result.output  # only the scenarios that fell short are listed


def test_recording_a_scenario_clears_the_step_in_progress(tmp_path: Path) -> None:
    run = _writer(tmp_path)
    plan = StepPlan(index=0, kind=StepKind.HOLD, level=40, hold_s=30, label="hold 1/3")
    run.step_started("expected-load", ScenarioKind.LOAD, plan)
    assert RunDir.open(run.path).record.in_progress is not None
    run.add_scenario(synthetic_load(AppModel()))
    record = run.finish(judge=None)
    assert record.in_progress is None and record.scenarios[0].last_step
    assert [o.complete for o in run_outcomes(record)] == [True, False, False]
