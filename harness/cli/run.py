"""`harness run`: the whole capacity test in one command (see harness/pipeline.py)."""

from __future__ import annotations

import json
import sys

import click

from harness.cli.app import app_option, promote_options, scenarios_option
from harness.cli.console import Console, plan_lines
from harness.config import Config, load_config
from harness.errors import EXIT_OK, HarnessError
from harness.pipeline import run_pipeline
from harness.platform.guard import price_table
from harness.platform.target import uses_emulator
from harness.promotion_gate import check_promotable, gate_run
from harness.run_plan import RunOptions, check_offline, plan_run

__all__ = ["run_command"]


@click.command("run")
@click.argument("scenario_names", metavar="[SCENARIO]...", nargs=-1)
@scenarios_option
@app_option
@click.option("--dry-run", is_flag=True, help="Print the plan, duration and cost estimate; touch nothing.")
@click.option(
    "--yes", "confirm", is_flag=True, help="Allow a formation over the guards' dyno or cost ceiling."
)
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Local Locust worker processes.")
@click.option(
    "--expect-workers", type=click.IntRange(min=0), default=None, help="Remote Locust workers to wait for."
)
@click.option(
    "--repeat",
    type=click.IntRange(1, 50),
    default=None,
    help="Measure the scenarios N times per formation, each in its own run directory (for `compare`).",
)
@promote_options
@click.option("--quiet", "-q", is_flag=True, help="Only the verdict and the report path.")
@click.option("--json", "as_json", is_flag=True, help="Print the machine summary as JSON on stdout.")
def run_command(
    scenario_names: tuple[str, ...],
    scenarios_path: str,
    app: str | None,
    dry_run: bool,
    confirm: bool,
    workers: int | None,
    expect_workers: int | None,
    repeat: int | None,
    promote: bool,
    promote_to: tuple[str, ...],
    quiet: bool,
    as_json: bool,
) -> None:
    """Run the capacity test: preflight, scale up, load, stress, restore, report.

    With no Heroku token configured, the shipped scenarios.yaml runs against the
    local emulator with the bundled demo app.
    """
    config = load_config(scenarios_path)
    if promote or promote_to:
        check_promotable(config)
    options = RunOptions(
        scenario_names=scenario_names,
        app=app,
        dry_run=dry_run,
        confirm=confirm,
        quiet=quiet or as_json,
        workers=workers,
        expect_workers=expect_workers,
        repeat=repeat,
    )
    if dry_run:
        sys.exit(_dry_run(config, options, as_json=as_json))
    result = run_pipeline(config, options, events=Console(quiet=options.quiet))
    if as_json:
        summary = result.summaries[0] if len(result.summaries) == 1 else result.summaries
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        for verdict, report in zip(result.verdicts, result.reports, strict=False):
            click.echo(verdict)
            click.echo(f"report: {report}")
        if result.interrupted:
            click.echo("interrupted: the formation was restored; the run directory is marked incomplete.")
    exit_code = result.exit_code
    if (promote or promote_to) and not result.interrupted:
        decision = gate_run(
            config, app or config.target.app, result.run_dirs, to=promote_to, progress=click.echo
        )
        for line in decision.lines():
            click.echo(line, err=as_json)
        exit_code = max(exit_code, decision.exit_code)
    sys.exit(exit_code)


def _dry_run(config: Config, options: RunOptions, *, as_json: bool) -> int:
    """Print the plan, then run every refusal that needs no platform; the exit code is the real run's."""
    plan = plan_run(config, options, emulator=uses_emulator(config), prices=price_table())
    notes: list[str] = []
    refused: HarnessError | None = None
    try:
        check_offline(config, options, dry_run=True, progress=notes.append)
    except HarnessError as exc:
        refused = exc
    if as_json:
        data = plan.as_json()
        data["refused"] = (
            None if refused is None else {"exit_code": refused.exit_code, "reason": str(refused)}
        )
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo("Dry run: nothing is scaled or loaded.")
        for line in [*plan_lines(plan), *notes]:
            click.echo(line)
    if refused is None:
        return EXIT_OK
    click.echo(f"error: the real run would be refused: {refused}", err=True)
    return refused.exit_code
