"""A master with two local `harness worker` processes measures what a local run does, in the same shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import parse_config
from harness.emulator import EmulatorProcess
from harness.engine import run_scenario
from harness.errors import LoadError
from harness.measurements import TOTAL, ScenarioResult, StepKind
from tests.integration.helpers import short_shop_load

SCENARIOS = short_shop_load(slo="{p95_ms: 150, error_ratio: 0.01}")


def shape(result: ScenarioResult) -> tuple[object, ...]:
    """What must not depend on where Locust ran."""
    endpoints = sorted({e.name for s in result.steps for e in s.window.endpoints})
    series = sorted({p.name for p in result.timeseries})
    return (
        [(s.window.plan.index, s.window.plan.kind) for s in result.steps],
        endpoints,
        series,
        sorted(v.criterion for v in result.verdicts),
    )


def test_two_local_workers_give_the_same_step_totals_as_a_local_run(
    tmp_path: Path, emulator: EmulatorProcess
) -> None:
    config = parse_config(SCENARIOS, source=tmp_path / "scenarios.yaml")
    host = emulator.web_url("harness-demo").rstrip("/")
    scenario = config.scenario("shop-load")

    # over HTTPS, verified with the emulator's CA: the master's users and both workers' trust it
    ca_file = emulator.ca_file
    local = run_scenario(config, scenario, host=host, quiet=True, ca_file=ca_file)
    distributed = run_scenario(config, scenario, host=host, workers=2, quiet=True, ca_file=ca_file)

    assert (local.workers, distributed.workers) == (0, 2)
    assert shape(local) == shape(distributed)
    assert distributed.status == local.status == "passed"
    for mine, theirs in zip(local.steps, distributed.steps, strict=True):
        if mine.window.plan.kind is StepKind.HOLD:
            offered = mine.window.plan.level * mine.window.duration_s
            assert abs(mine.window.total.requests - offered) <= 0.1 * offered
            assert abs(theirs.window.total.requests - offered) <= 0.1 * offered
    assert distributed.judged is not None and abs(distributed.judged.achieved_rps - 30) <= 3
    # The per-second series is built from the workers' own per-second counts on the master.
    in_hold = [
        p.rps
        for p in distributed.timeseries
        if p.name == TOTAL
        and p.kind is StepKind.HOLD
        and distributed.judged.start_ts + 1 <= p.ts
        and p.ts + 1 <= distributed.judged.end_ts
    ]
    assert in_hold and 20 <= sum(in_hold) / len(in_hold) <= 40


def test_missing_remote_workers_end_in_a_clear_load_error(tmp_path: Path, emulator: EmulatorProcess) -> None:
    text = SCENARIOS.replace(
        "locustfiles:", "load_generator: {master_bind_port: 0, worker_join_timeout_s: 1}\nlocustfiles:"
    )
    config = parse_config(text, source=tmp_path / "scenarios.yaml")
    host = emulator.web_url("harness-demo").rstrip("/")
    with pytest.raises(LoadError, match=r"only 0 of 2 Locust workers joined within 1 s"):
        run_scenario(config, config.scenario("shop-load"), host=host, expect_workers=2, quiet=True)
