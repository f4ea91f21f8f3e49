"""`harness stress` options: which scenario, the overrides, and how a breaking point is printed."""

from __future__ import annotations

import pytest

from harness.cli.app import cli
from harness.cli.scenario_output import describe_breaking_point
from harness.cli.stress import stress_scenario
from harness.config import Config, Level, parse_config
from harness.errors import ConfigError
from harness.measurements import BreakingPoint, LevelMode, Verdict

SCENARIOS = """
version: 1
target: {app: harness-demo, platform: emulator, formations: [{quantity: 1}]}
locustfiles:
  search: {path: search_only.py}
expected_peak: {rps: 20}
scenarios:
  - {name: hold, kind: load, level: {rps: 20}}
  - name: push
    kind: stress
    start: {rps: 20}
    max: {rps: 800}
    slo: {p95_ms: 300, error_ratio: 0.01}
"""


@pytest.fixture
def config() -> Config:
    return parse_config(SCENARIOS)


def test_the_first_stress_scenario_is_the_default(config: Config) -> None:
    assert stress_scenario(config, None).name == "push"


def test_options_override_the_scenario(config: Config) -> None:
    scenario = stress_scenario(config, "push", rate_start=50, max_level=400, tolerance=0.02, p95_ms=500)
    assert (scenario.start, scenario.max, scenario.tolerance) == (Level(rps=50), Level(rps=400), 0.02)
    assert (scenario.slo.p95_ms, scenario.slo.error_ratio) == (500, 0.01)


def test_users_start_switches_the_unit_of_max_too(config: Config) -> None:
    scenario = stress_scenario(config, None, users_start=10, max_level=200)
    assert (scenario.start.mode, scenario.max) == (LevelMode.USERS, Level(users=200))


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("hold", {}, "is a load scenario"),
        ("push", {"rate_start": 10, "users_start": 5}, "not both"),
        ("push", {"rate_start": 900}, "'max' must be above 'start'"),
    ],
)
def test_mistakes_are_config_errors(
    config: Config, name: str, overrides: dict[str, float], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        stress_scenario(config, name, **overrides)  # type: ignore[arg-type]


def test_a_breaking_point_prints_answer_bracket_cause_and_time() -> None:
    point = BreakingPoint(
        status="found",
        mode=LevelMode.ARRIVAL_RATE,
        level=97.5,
        sustainable_rps=96.8,
        bracket_low=97.5,
        bracket_high=101.9,
        criterion="saturation",
        criterion_detail=Verdict(
            criterion="saturation", threshold=96.8, measured=92.1, passed=False, unit="req/s"
        ),
        load_time_s=31.25,
    )
    assert describe_breaking_point(point) == [
        "breaking point: found",
        "  sustainable: 96.8 req/s at 97.5 req/s",
        "  bracket: [97.5, 101.9] req/s (tolerance 5%)",
        "  broke first: saturation 92.1 req/s < 96.8 req/s",
        "  load time: 31.2 s",
    ]


def test_a_metastable_breaking_point_prints_the_finding_and_the_drains() -> None:
    from harness.measurements import Metastability

    finding = Metastability(
        overload_step=2,
        overload_level=1800.0,
        degraded_broken_level=770.0,
        rested_rps=958.0,
        drain_s=10.0,
        evidence=["step 6: 770 req/s broke after an overload but held on a rested app"],
    )
    point = BreakingPoint(
        status="found", mode=LevelMode.ARRIVAL_RATE, level=960.0, sustainable_rps=958.0, load_time_s=40.0,
        idle_time_s=10.0, metastability=finding,
    )  # fmt: skip
    assert describe_breaking_point(point)[-3:] == [
        "  load time: 40.0 s (+ 10.0 s of drains without load)",
        "  METASTABLE: after an overload the app serves less than 770 req/s instead of 958 req/s",
        "    step 6: 770 req/s broke after an overload but held on a rested app",
    ]


def test_the_command_has_help() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["stress", "--help"])
    assert result.exit_code == 0
    assert "--rate-start" in result.output and "breaking point" in result.output
