"""`harness compare` over run directories: sides by release or series, the gate, the outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.capacity.compare import Outcome
from harness.capacity.verdict import judge_run
from harness.cli.app import cli
from harness.comparison import GateOutcome, compare_sides, resolve_side
from harness.errors import ConfigError
from harness.results import FormationRun, RunStore
from tests.unit.results_synthetic import AppModel, synthetic_load, synthetic_meta, synthetic_stress


def _series(store: RunStore, release: int, capacity: float, repeats: int, *, series: str) -> None:
    for repeat in range(1, repeats + 1):
        meta = synthetic_meta(release=release).model_copy(
            update={"series_id": series, "repeat": repeat, "repeats": repeats}
        )
        writer = store.create("harness-demo", meta)
        model = AppModel(capacity_rps=capacity, seed=repeat + 10 * release)
        writer.add_scenario(synthetic_load(model))
        writer.add_scenario(synthetic_stress(model))
        writer.finish(judge=judge_run)


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    store = RunStore(tmp_path / "reports")
    _series(store, 51, 160.0, 4, series="s51")
    _series(store, 52, 120.0, 4, series="s52")
    _series(store, 53, 120.0, 2, series="s53")
    return store


def test_a_slower_release_is_regressed_on_the_breaking_point(store: RunStore) -> None:
    base = resolve_side("v51", store, app="harness-demo")
    new = resolve_side("s52", store)
    assert (len(base.runs), len(new.runs)) == (4, 4)
    result = compare_sides(base, new)
    point = next(m for m in result.metrics if m.metric == "breaking point")
    assert point.gate and point.outcome is Outcome.REGRESSED
    assert point.change is not None and point.change.ratio < -0.15
    assert result.outcome is GateOutcome.REGRESSED
    assert result.sentence.startswith("v52 breaks at") and "below v51: regressed" in result.sentence


def test_a_run_directory_brings_its_whole_series(store: RunStore) -> None:
    one = store.history(app="harness-demo")[0]
    side = resolve_side(one.path, store)
    assert len(side.runs) == (2 if one.release == 53 else 4)


def test_two_repeats_a_side_withhold_the_verdict_and_exit_5(store: RunStore, tmp_path: Path) -> None:
    args = ["compare", "--app", "harness-demo", "--release", "v51", "--release", "v53"]
    result = CliRunner().invoke(cli, [*args, "--reports-dir", str(store.reports_dir)])
    assert result.exit_code == 5, result.output
    assert "no verdict with 4 + 2 repeats" in result.output and "at least 4" in result.output
    failing = CliRunner().invoke(
        cli, [*args, "--reports-dir", str(store.reports_dir), "--inconclusive", "fail"]
    )
    assert failing.exit_code == 1


def test_the_cli_prints_a_table_and_writes_html_json_and_junit(store: RunStore, tmp_path: Path) -> None:
    html, junit = tmp_path / "compare.html", tmp_path / "compare.xml"
    args = ["compare", "v51", "v52", "--app", "harness-demo", "--reports-dir", str(store.reports_dir)]
    table = CliRunner().invoke(cli, [*args, "--html", str(html), "--junit", str(junit)])
    assert table.exit_code == 1, table.output
    assert "breaking point (req/s)" in table.output and "regressed [gate]" in table.output
    page = html.read_text()
    assert (
        "v52 breaks at" in page and page.count("<svg") >= 3 and "http" not in page.replace("http-equiv", "")
    )
    assert '<failure message="breaking point: regressed' in junit.read_text()
    as_json = CliRunner().invoke(cli, [*args, "--format", "json"])
    data = json.loads(as_json.output)
    assert data["outcome"] == "regressed" and data["base"]["label"] == "v51"


def test_an_unknown_side_names_what_to_give(store: RunStore) -> None:
    result = CliRunner().invoke(cli, ["compare", "v9", "v52", "--reports-dir", str(store.reports_dir)])
    assert result.exit_code == 2
    assert "no run matches 'v9'" in result.output and "harness history" in result.output


def test_the_trend_flags_a_release_outside_the_earlier_range(store: RunStore, tmp_path: Path) -> None:
    _series(store, 54, 400.0, 1, series="s54")
    html = tmp_path / "trend.html"
    args = ["history", "--trend", "--app", "harness-demo", "--reports-dir", str(store.reports_dir)]
    result = CliRunner().invoke(cli, [*args, "--html", str(html)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert set(lines) == {"v51", "v52", "v53", "v54"}
    assert "breaking point above the range of earlier releases" in lines["v54"] and "better" in lines["v54"]
    assert "flags" not in lines["v51"] and lines["v51"].rstrip().endswith("ms")
    page = html.read_text()
    assert page.count("<svg") == 2 and "v54" in page


def test_a_base_measured_with_a_lagging_generator_is_flagged(store: RunStore) -> None:
    base = resolve_side("v51", store, app="harness-demo")
    new = resolve_side("v52", store, app="harness-demo")
    assert not [w for w in compare_sides(base, new).warnings if w.what == "load generator"]
    steps_csv = base.runs[0].path / "steps.csv"
    with steps_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    # The search re-ran the lagging step once ("ignored: ..."), then judged it lagging again.
    probe = next(r for r in rows if r["kind"] == "probe")
    probe["note"] = "generator lagging (scheduling lag p99 41 ms)"
    with steps_csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    flagged = resolve_side("v51", store, app="harness-demo")
    warnings = [w for w in compare_sides(flagged, new).warnings if w.what == "load generator"]
    assert warnings and "saturated or lagging" in warnings[0].detail


def test_a_run_over_many_formations_is_no_side_but_its_formations_are(store: RunStore) -> None:
    # The newest run of v52 is one over two formations: by release, compare takes the v52 series.
    meta = synthetic_meta(release=52)
    parent = store.create("harness-demo", meta)
    children = RunStore(parent.path / "formations")
    for index, dynos in enumerate((1, 2)):
        child = children.create("harness-demo", meta, name=f"{index + 1}-{dynos}x-standard-1x")
        model = AppModel(capacity_rps=100.0 * dynos, seed=index)
        child.add_scenario(synthetic_stress(model))
        child.finish(judge=judge_run)
    formations = [
        FormationRun(index=i, dir=f"formations/{i + 1}-{n}x-standard-1x", size="Standard-1X", dynos=n)
        for i, n in enumerate((1, 2))
    ]
    parent.update(formations=formations)
    parent.finish()
    with pytest.raises(ConfigError, match="one run over 2 formations") as refused:
        resolve_side(str(parent.path), store)
    assert str(parent.path / "formations" / "2-2x-standard-1x") in str(refused.value)
    assert len(resolve_side("v52", store, app="harness-demo").runs) == 4
    one = resolve_side(str(parent.path / "formations" / "2-2x-standard-1x"), store)
    assert len(one.runs) == 1 and one.runs[0].record.breaking_point is not None
    assert str(parent.path) in [h.path for h in store.history(app="harness-demo")]
