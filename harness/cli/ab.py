"""`harness ab --base v51 --new v52`: the two releases on one scaled formation, interleaved, then compared."""

from __future__ import annotations

import sys

import click

from harness.cli.app import app_option, promote_options, scenarios_option
from harness.cli.compare import exit_code_for, render_table
from harness.cli.console import Console
from harness.comparison import compare_sides, resolve_side
from harness.comparison.run import DEFAULT_GATES, METRICS
from harness.config import load_config
from harness.errors import ConfigError
from harness.pipeline import run_pipeline
from harness.promotion_gate import check_promotable, gate_run
from harness.results.store import RunStore
from harness.run_plan import RunOptions

__all__ = ["ab_command"]


def _version(text: str, option: str) -> int:
    digits = text[1:] if text[:1] in {"v", "V"} else text
    if not digits.isdigit():
        raise ConfigError(f"{option} takes a release such as v51, not '{text}'.", field=option)
    return int(digits)


@click.command("ab")
@click.argument("scenario_names", metavar="[SCENARIO]...", nargs=-1)
@scenarios_option
@app_option
@click.option("--base", "base", required=True, help="The release to compare against, e.g. v51.")
@click.option("--new", "new", required=True, help="The release under test, e.g. v52.")
@click.option(
    "--repeat", type=click.IntRange(1, 50), default=6, show_default=True, help="Repeats a side (ABBA order)."
)
@click.option(
    "--margin", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True
)
@click.option("--gate", "gates", multiple=True, type=click.Choice([m.name for m in METRICS]))
@click.option(
    "--inconclusive", type=click.Choice(["code", "fail", "pass"]), default="code", show_default=True
)
@click.option("--yes", "confirm", is_flag=True, help="Allow a formation over the guards' ceilings.")
@promote_options
@click.option("--quiet", "-q", is_flag=True, help="Only the comparison.")
def ab_command(
    scenario_names: tuple[str, ...],
    scenarios_path: str,
    app: str | None,
    base: str,
    new: str,
    repeat: int,
    margin: float,
    gates: tuple[str, ...],
    inconclusive: str,
    confirm: bool,
    promote: bool,
    promote_to: tuple[str, ...],
    quiet: bool,
) -> None:
    """Run the scenarios on BASE and NEW in turn (ABBA…, so drift cancels) on one scaled formation,
    then compare them like `harness compare`.

    The release that was current is journaled before the first switch and put back on every exit
    path; after `kill -9`, `harness restore` does it. Exit codes: 0 no regression proven, 1
    regressed, 2 usage, 3 platform, 4 restore failed, 5 inconclusive, 130/143 interrupted."""
    config = load_config(scenarios_path)
    versions = (_version(base, "--base"), _version(new, "--new"))
    if versions[0] == versions[1]:
        raise ConfigError("--base and --new name the same release; an A/B test needs two.", field="--new")
    if promote or promote_to:
        check_promotable(config)
    options = RunOptions(
        scenario_names=scenario_names, app=app, confirm=confirm, quiet=quiet, repeat=repeat, ab=versions
    )
    result = run_pipeline(config, options, events=Console(quiet=quiet))
    if result.interrupted or not result.run_dirs:
        sys.exit(result.exit_code)
    store = RunStore(config.reports_dir)
    first = store.open(result.run_dirs[0])
    series = (first.record.series_id or "").rsplit("-", 1)[0]
    comparison = compare_sides(
        resolve_side(f"{series}-a", store),
        resolve_side(f"{series}-b", store),
        margin=margin,
        gates=gates or DEFAULT_GATES,
    )
    click.echo(render_table(comparison))
    exit_code = exit_code_for(comparison.outcome, inconclusive)
    if promote or promote_to:
        new_side = [run.path for run in resolve_side(f"{series}-b", store).runs]
        decision = gate_run(
            config,
            app or config.target.app,
            new_side,
            comparison=comparison,
            inconclusive=inconclusive,
            to=promote_to,
            progress=click.echo,
        )
        for line in decision.lines():
            click.echo(line)
        exit_code = max(exit_code, decision.exit_code)
    sys.exit(exit_code)
