"""The release gate's decision over real run directories: pass, failed SLOs, regressed, inconclusive."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from harness.capacity.verdict import judge_run
from harness.cli.app import cli
from harness.comparison import compare_sides
from harness.comparison.model import Side
from harness.errors import EXIT_CONFIG, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_SLO_FAILED
from harness.promotion_gate import decide, previous_release
from harness.results import RunStore
from harness.results.rundir import RunDir
from tests.unit.results_synthetic import AppModel, synthetic_load, synthetic_meta, synthetic_stress


def _series(store: RunStore, release: int, capacity: float, repeats: int, *, peak_ok: bool = True) -> Side:
    runs = []
    for repeat in range(1, repeats + 1):
        meta = synthetic_meta(release=release).model_copy(
            update={"series_id": f"s{release}", "repeat": repeat, "repeats": repeats}
        )
        writer = store.create("harness-demo", meta)
        model = AppModel(capacity_rps=capacity, seed=repeat + 10 * release)
        writer.add_scenario(synthetic_load(model, offered_rps=80.0 if peak_ok else capacity * 1.5))
        writer.add_scenario(synthetic_stress(model))
        writer.finish(judge=judge_run)
        runs.append(RunDir.open(writer.path))
    return Side(label=f"v{release}", runs=tuple(runs))


def test_every_slo_held_and_nothing_to_compare_promotes(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "reports")
    new = _series(store, 52, 160.0, 1)
    assert previous_release(store, "harness-demo", 52, []) is None
    decision = decide(new.runs, None)
    assert decision.promote and decision.release_version == 52 and decision.exit_code == EXIT_OK
    assert "no earlier release was measured" in decision.lines()[0]


def test_a_regression_against_the_previous_release_blocks_the_promotion(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "reports")
    _series(store, 51, 200.0, 4)
    new = _series(store, 52, 150.0, 4)
    base = previous_release(store, "harness-demo", 52, [r.record.run_id for r in new.runs])
    assert base is not None and base.label == "v51" and len(base.runs) == 4
    decision = decide(new.runs, compare_sides(base, new))
    assert not decision.promote and decision.exit_code == EXIT_SLO_FAILED
    assert decision.lines()[0].startswith("not promoted: ") and "regressed" in decision.lines()[0]


def test_an_inconclusive_comparison_blocks_unless_told_to_pass(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "reports")
    base = _series(store, 51, 160.0, 2)
    new = _series(store, 52, 160.0, 2)
    comparison = compare_sides(base, new)
    blocked = decide(new.runs, comparison)
    assert not blocked.promote and blocked.exit_code == EXIT_INCONCLUSIVE
    assert "--inconclusive pass" in blocked.lines()[0]
    assert decide(new.runs, comparison, inconclusive="fail").exit_code == EXIT_SLO_FAILED
    assert decide(new.runs, comparison, inconclusive="pass").promote


def test_a_failed_slo_blocks_the_promotion_and_says_which(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "reports")
    new = _series(store, 52, 60.0, 1, peak_ok=False)
    decision = decide(new.runs, None)
    assert not decision.promote and decision.exit_code == EXIT_SLO_FAILED
    assert "did not pass" in decision.lines()[0]


def test_promote_is_refused_up_front_on_the_emulator_harness_starts(tmp_path: Path) -> None:
    scenarios = Path(__file__).resolve().parents[2] / "scenarios.yaml"
    env = {"HARNESS_STATE_DIR": str(tmp_path / "state"), "NETRC": str(tmp_path / "none")}
    result = CliRunner().invoke(cli, ["run", "--promote", "--scenarios", str(scenarios)], env=env)
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "--promote needs a pipeline" in result.output
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("*.json"))
