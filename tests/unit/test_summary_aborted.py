"""The breaking-point sentence of a search that an abort condition ended: it still gives the bracket."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.measurements import BreakingPoint, LevelMode, Verdict
from harness.report.summary import breaking_point_text, verdict_sentence
from harness.results import RunStore
from harness.results.model import RunRecord
from tests.unit.results_synthetic import AppModel, synthetic_meta, synthetic_stress

ABORT_VERDICT = Verdict(criterion="abort", threshold=0.5, measured=0.6312, passed=False, unit="ratio")
CONFIG = {"name": "find-breaking-point", "kind": "stress", "abort": {"error_ratio": 0.5, "for_s": 2.0}}


def _record(tmp_path: Path, point: BreakingPoint) -> RunRecord:
    writer = RunStore(tmp_path / "reports").create("harness-demo", synthetic_meta())
    update = {"status": "aborted", "breaking_point": point, "abort_for_s": 2.0}
    result = synthetic_stress(AppModel()).model_copy(update=update)
    writer.add_scenario(result, config=CONFIG)
    return writer.record


def _aborted(**fields: object) -> BreakingPoint:
    values: dict[str, object] = {"status": "aborted", "mode": LevelMode.ARRIVAL_RATE}
    values.update(fields)
    return BreakingPoint.model_validate(values)


def test_an_abort_with_a_last_good_level_says_where_and_why_and_the_bracket(tmp_path: Path) -> None:
    point = _aborted(
        level=180.0,
        sustainable_rps=178.9,
        bracket_low=180.0,
        bracket_high=540.0,
        criterion="abort",
        criterion_detail=ABORT_VERDICT,
    )
    record = _record(tmp_path, point)
    expected = (
        "the breaking-point search was aborted at 540 req/s (error ratio 63 % > 50 % for 2 s); "
        "last good level 180 req/s (179 req/s served)"
    )
    assert breaking_point_text(record) == expected
    assert expected in verdict_sentence(record)


def test_an_abort_at_the_first_level_has_no_last_good_level(tmp_path: Path) -> None:
    point = _aborted(bracket_high=300.0, criterion="abort", criterion_detail=ABORT_VERDICT)
    assert breaking_point_text(_record(tmp_path, point)) == (
        "the breaking-point search was aborted at 300 req/s (error ratio 63 % > 50 % for 2 s); "
        "no level held before it"
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"level": 90.0, "sustainable_rps": 88.0, "bracket_low": 90.0, "bracket_high": 120.0,
             "criterion": "p95_ms"},
            "the breaking-point search was aborted (first broken level 120 req/s); "
            "last good level 90 req/s (88 req/s served)",
        ),
        ({}, "the breaking-point search was aborted"),
    ],
)  # fmt: skip
def test_other_early_ends_keep_what_the_search_knew(
    tmp_path: Path, fields: dict[str, object], expected: str
) -> None:
    assert breaking_point_text(_record(tmp_path, _aborted(**fields))) == expected
