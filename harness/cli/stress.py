"""`harness stress`: find where an app breaks (the adaptive breaking-point search) and print it."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from harness.cli.app import format_option, scenarios_option
from harness.cli.scenario_output import render_result
from harness.config import Config, Level, StressScenario, load_config, validation_message
from harness.errors import EXIT_OK, EXIT_SLO_FAILED, ConfigError
from harness.measurements import SearchStatus

__all__ = ["stress_command", "stress_scenario"]

# Statuses that answer the question "where does it break?" (exit 0); the others exit 1.
_ANSWERED = {SearchStatus.FOUND, SearchStatus.NOT_REACHED}


@click.command("stress")
@click.argument("scenario_name", metavar="[SCENARIO]", required=False)
@scenarios_option
@click.option("--host", required=True, help="Base URL of the app, e.g. http://127.0.0.1:5000 (the router).")
@click.option("--rate-start", type=click.FloatRange(min=0, min_open=True), help="Start level in req/s.")
@click.option("--users-start", type=click.IntRange(min=1), help="Start level in users.")
@click.option("--max", "max_level", type=click.FloatRange(min=0, min_open=True), help="Never above this.")
@click.option("--tolerance", type=click.FloatRange(0, 1, min_open=True, max_open=True), help="e.g. 0.05.")
@click.option("--p95-ms", type=click.FloatRange(min=0, min_open=True), help="p95 latency limit (ms).")
@click.option("--error-ratio", type=click.FloatRange(0, 1), help="Error ratio limit, e.g. 0.01.")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Local worker processes.")
@click.option("--quiet", "-q", is_flag=True, help="No live progress line.")
@format_option
@click.pass_context
def stress_command(
    ctx: click.Context,
    scenario_name: str | None,
    scenarios_path: str,
    host: str,
    rate_start: float | None,
    users_start: int | None,
    max_level: float | None,
    tolerance: float | None,
    p95_ms: float | None,
    error_ratio: float | None,
    workers: int | None,
    quiet: bool,
    output_format: str,
) -> None:
    """Search the breaking point of --host with a stress SCENARIO (default: the first one).

    Grows the load geometrically until a step breaks an SLO or stops turning
    load into throughput, narrows the bracket to the tolerance, confirms it
    with a longer hold and measures the recovery. Options override the
    scenario. Exits 0 when the search found the breaking point (or it lies
    above --max), 1 when the app broke at the start or the search was aborted.
    """
    from harness.engine import run_scenario

    config = load_config(scenarios_path)
    overrides: dict[str, Any] = {
        "rate_start": rate_start,
        "users_start": users_start,
        "max_level": max_level,
        "tolerance": tolerance,
        "p95_ms": p95_ms,
        "error_ratio": error_ratio,
    }
    scenario = stress_scenario(config, scenario_name, **overrides)
    result = run_scenario(config, scenario, host=host.rstrip("/"), workers=workers, quiet=quiet)
    click.echo(render_result(result, output_format))
    answered = result.breaking_point is not None and result.breaking_point.status in _ANSWERED
    ctx.exit(EXIT_OK if answered else EXIT_SLO_FAILED)


def stress_scenario(
    config: Config,
    name: str | None,
    *,
    rate_start: float | None = None,
    users_start: int | None = None,
    max_level: float | None = None,
    tolerance: float | None = None,
    p95_ms: float | None = None,
    error_ratio: float | None = None,
) -> StressScenario:
    """The named (or first) stress scenario of `config`, with the command-line overrides applied."""
    scenario = _pick(config, name)
    if rate_start is not None and users_start is not None:
        raise ConfigError("give --rate-start or --users-start, not both.")
    update: dict[str, Any] = {}
    if rate_start is not None:
        update["start"] = Level(rps=rate_start)
    if users_start is not None:
        update["start"] = Level(users=users_start)
    start: Level = update.get("start", scenario.start)
    if max_level is not None or start.mode != scenario.max.mode:
        value = max_level if max_level is not None else scenario.max.value
        update["max"] = Level(rps=value) if start.users is None else Level(users=max(1, round(value)))
    if tolerance is not None:
        update["tolerance"] = tolerance
    slo = {key: value for key, value in {"p95_ms": p95_ms, "error_ratio": error_ratio}.items() if value}
    if slo:
        update["slo"] = scenario.slo.model_copy(update=slo)
    if not update:
        return scenario
    try:
        return StressScenario.model_validate({**scenario.model_dump(), **_dumped(update)})
    except ValidationError as exc:
        options = {
            "--rate-start": rate_start,
            "--users-start": users_start,
            "--max": max_level,
            "--tolerance": tolerance,
            "--p95-ms": p95_ms,
            "--error-ratio": error_ratio,
        }
        given = ", ".join(f"{flag} {value:g}" for flag, value in options.items() if value is not None)
        raise ConfigError(
            f"{given} would make stress scenario '{scenario.name}' invalid: {validation_message(exc)} "
            f"Change the option, or the scenario in {config.source or 'the scenarios file'}.",
        ) from None


def _dumped(update: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value.model_dump() if hasattr(value, "model_dump") else value for key, value in update.items()
    }


def _pick(config: Config, name: str | None) -> StressScenario:
    if name is not None:
        scenario = config.scenario(name)
        if not isinstance(scenario, StressScenario):
            raise ConfigError(f"scenario '{name}' is a {scenario.kind} scenario; pick a stress one.")
        return scenario
    for scenario in config.scenarios:
        if isinstance(scenario, StressScenario):
            return scenario
    raise ConfigError(
        "the scenarios file has no stress scenario; add one (kind: stress).", file=config.source
    )
