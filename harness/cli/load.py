"""`harness validate`, `harness load`, `harness worker`: thin commands over `harness.load`."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.app import format_option, scenarios_option
from harness.cli.scenario_output import render_result
from harness.config import load_config
from harness.errors import EXIT_OK, EXIT_SLO_FAILED
from harness.measurements import ScenarioStatus

__all__ = ["load_command", "validate_command", "worker_command"]


@click.command("validate")
@click.argument("scenarios_file", required=False, default="scenarios.yaml", type=click.Path(dir_okay=False))
def validate_command(scenarios_file: str) -> None:
    """Check SCENARIOS_FILE (default ./scenarios.yaml) and import its locustfiles; runs nothing."""
    from harness.load.locustfile import check_locustfiles

    config = load_config(scenarios_file)
    classes = check_locustfiles(config)
    click.echo(f"{scenarios_file}: OK")
    click.echo(
        f"  target: {config.target.app} ({config.target.platform}), {config.target.process_type} × "
        + ", ".join(f.describe() for f in config.target.formations)
    )
    for key, names in classes.items():
        click.echo(f"  locustfile {key}: {config.locustfiles[key].path.name} → {', '.join(names)}")
    for scenario in config.scenarios:
        click.echo(f"  scenario {scenario.name}: {scenario.kind}")


@click.command("load")
@click.argument("scenario_name", metavar="SCENARIO")
@scenarios_option
@click.option("--host", required=True, help="Base URL of the app to load, e.g. http://127.0.0.1:5000.")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="Local worker processes.")
@click.option(
    "--expect-workers", type=click.IntRange(min=0), default=None, help="Remote workers to wait for."
)
@click.option("--quiet", "-q", is_flag=True, help="No live progress line.")
@format_option
@click.pass_context
def load_command(
    ctx: click.Context,
    scenario_name: str,
    scenarios_path: str,
    host: str,
    workers: int | None,
    expect_workers: int | None,
    quiet: bool,
    output_format: str,
) -> None:
    """Run one SCENARIO of the scenarios file against --host and print its verdicts.

    Exits 0 when every SLO held, 1 when one failed or the scenario was aborted.
    """
    from harness.engine import run_scenario

    config = load_config(scenarios_path)
    scenario = config.scenario(scenario_name)
    result = run_scenario(
        config, scenario, host=host.rstrip("/"), workers=workers, expect_workers=expect_workers, quiet=quiet
    )
    click.echo(render_result(result, output_format))
    ctx.exit(EXIT_OK if result.status == ScenarioStatus.PASSED else EXIT_SLO_FAILED)


@click.command("worker")
@click.option(
    "--master-host", required=True, help="Host of the harness master (the machine running harness)."
)
@click.option("--master-port", type=int, default=5557, show_default=True, help="Its Locust master port.")
@click.option(
    "--locustfile",
    "-f",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Same file as master.",
)
@click.option("--pacing", type=click.Choice(["uniform", "poisson"]), default="uniform", show_default=True)
@click.option("--request-timeout", type=float, default=35.0, show_default=True, help="Client timeout (s).")
@click.option("--once", is_flag=True, help="Exit when the master quits instead of waiting for the next one.")
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A CA certificate to trust besides the system's (the local emulator's; HTTPS is always verified).",
)
def worker_command(
    master_host: str,
    master_port: int,
    locustfile: str,
    pacing: str,
    request_timeout: float,
    once: bool,
    ca_file: Path | None,
) -> None:
    """Generate load for a harness master on another machine (users and arrival-rate mode)."""
    from harness.load.pacing import PacingMode
    from harness.load.worker import run_worker

    run_worker(
        locustfile=locustfile,
        master_host=master_host,
        master_port=master_port,
        pacing=PacingMode(pacing),
        request_timeout_s=request_timeout,
        once=once,
        ca_file=ca_file,
    )
