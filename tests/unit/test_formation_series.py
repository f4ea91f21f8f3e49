"""The multi-formation run's pure parts, on run directories written for real: names and generator flags."""

from __future__ import annotations

from pathlib import Path

from harness.capacity.verdict import judge_run
from harness.formation_series import formation_dir_name, generator_note
from harness.results import RunStore
from tests.unit.results_synthetic import AppModel, synthetic_meta, synthetic_stress


def _formation_run(root: Path, *, cpu_warning: bool) -> Path:
    writer = RunStore(root).create("harness-demo", synthetic_meta(), name="1-1x-standard-1x")
    writer.add_scenario(synthetic_stress(AppModel(capacity_rps=100.0), cpu_warning=cpu_warning))
    writer.finish(judge=judge_run)
    return writer.path


def test_a_formation_directory_is_named_by_order_count_size_and_repeat() -> None:
    assert formation_dir_name(1, 4, "Standard-2X") == "2-4x-standard-2x"
    assert formation_dir_name(0, 2, "Performance-M", repeat=3) == "1-2x-performance-m-r3"


def test_steps_measured_with_the_generator_saturated_flag_the_formation(tmp_path: Path) -> None:
    clean = _formation_run(tmp_path / "clean", cpu_warning=False)
    assert clean.name == "1-1x-standard-1x"
    assert generator_note(clean) is None
    flagged = generator_note(_formation_run(tmp_path / "flagged", cpu_warning=True))
    assert flagged is not None and flagged.startswith("1 of ")
    assert "may be the generator's limit, not the app's" in flagged
