"""`harness validate`, `harness load`, `harness worker`: thin commands over `harness.load`."""

from __future__ import annotations

import csv
import io

import click

from harness.cli.app import format_option, scenarios_option
from harness.config import load_config
from harness.errors import EXIT_OK, EXIT_SLO_FAILED
from harness.measurements import ScenarioResult, ScenarioStatus

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
    click.echo(_render(result, output_format))
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
def worker_command(
    master_host: str, master_port: int, locustfile: str, pacing: str, request_timeout: float, once: bool
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
    )


def _render(result: ScenarioResult, output_format: str) -> str:
    if output_format == "json":
        return result.model_dump_json(indent=2)
    if output_format == "csv":
        return _steps_csv(result)
    return _table(result)


def _table(result: ScenarioResult) -> str:
    lines = [f"{result.name} ({result.kind}): {result.status.upper()}"]
    if result.abort_reason:
        lines.append(f"  aborted: {result.abort_reason}")
    if result.judged is not None:
        w = result.judged
        offered = f"offered {w.offered_rps:g} req/s, " if w.offered_rps is not None else ""
        lat = w.total.latency
        lines.append(
            f"  judged {w.duration_s:.1f} s: {offered}achieved {w.achieved_rps:.1f} req/s, "
            f"p50 {lat.p50_ms} ms, p95 {lat.p95_ms} ms, p99 {lat.p99_ms} ms, errors {w.total.error_ratio:.2%}"
        )
    for verdict in result.verdicts:
        missed = f" (missed by {verdict.miss_ratio:.0%})" if verdict.miss_ratio is not None else ""
        lines.append(f"  {'PASS' if verdict.passed else 'FAIL'} {verdict.describe()}{missed}")
    if result.breaking_point is not None:
        bp = result.breaking_point
        lines.append(
            f"  breaking point: {bp.status}, level {bp.level}, sustainable {bp.sustainable_rps} req/s"
        )
    if result.recovery is not None:
        rec = result.recovery
        lines.append(
            f"  recovery: {'recovered' if rec.recovered else 'NOT recovered'} in {rec.time_to_recover_s} s"
        )
    for warning in result.cpu_warnings:
        lines.append(f"  warning: {warning}")
    return "\n".join(lines)


def _steps_csv(result: ScenarioResult) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "step",
            "kind",
            "level",
            "users",
            "offered_rps",
            "achieved_rps",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "error_ratio",
            "ok",
            "broken_by",
        ]
    )
    for record in result.steps:
        w = record.window
        lat = w.total.latency
        writer.writerow(
            [
                w.plan.index,
                w.plan.kind,
                w.plan.level,
                w.users,
                w.offered_rps,
                round(w.achieved_rps, 3),
                lat.p50_ms,
                lat.p95_ms,
                lat.p99_ms,
                round(w.total.error_ratio, 5),
                record.ok,
                record.broken_by or "",
            ]
        )
    return out.getvalue().rstrip("\n")
