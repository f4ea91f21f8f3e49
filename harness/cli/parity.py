"""`harness parity`: does the staging app resemble production where a capacity test cares?

A thin command over `platform.profile` (GET calls only) and `platform.parity`
(the pure comparison). Apps come from the options, else from scenarios.yaml
(`target.app`, `target.production_app`). The table is for people, `--format
json` for machines; neither ever holds a config var value (with
`--compare-values` only keyed digests are compared, and none is shown).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import click

from harness.cli.app import scenarios_option
from harness.config import Target, load_config
from harness.errors import EXIT_SLO_FAILED, ConfigError
from harness.platform.parity import ParityReport, compare
from harness.platform.profile import read_profile
from harness.platform.target import env_platform

__all__ = ["parity_command", "render_table", "target_settings"]


def target_settings(ctx: click.Context, scenarios_path: str) -> Target | None:
    """scenarios.yaml's target when the file exists (or was named explicitly), else None."""
    explicit = ctx.get_parameter_source("scenarios_path") is not click.core.ParameterSource.DEFAULT
    if not explicit and not Path(scenarios_path).is_file():
        return None
    return load_config(scenarios_path).target


def _wrap(text: str, width: int = 96, indent: str = "      ") -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent)


def render_table(report: ParityReport) -> list[str]:
    """The report for a person: the summary, one row per difference with its effect, side effects."""
    lines = [report.summary()]
    if report.differences:
        lines.append(f"{'SEVERITY':<8} {'ASPECT':<13} {'SUBJECT':<22} {'PRODUCTION':<28} STAGING")
    for d in report.differences:
        lines.append(
            f"{d.severity:<8} {d.aspect:<13} {d.subject or '-':<22} {d.production or '(none)':<28} "
            f"{d.staging or '(none)'}"
        )
        lines += _wrap(f"→ {d.effect}")
    if report.side_effects:
        lines.append("Side effects (a test of staging would act in the real world):")
    for e in report.side_effects:
        lines.append(f"{e.severity:<8} {e.kind} {e.name} ({e.provider}{', live key' if e.live else ''})")
        lines += _wrap(f"→ {e.effect}")
    if not report.values_compared:
        lines.append("config var values were not compared (names only; --compare-values compares digests)")
    return lines


@click.command("parity")
@click.option(
    "--production", "production", default=None, help="The production app (default: target.production_app)."
)
@click.option("--staging", "staging", default=None, help="The staging app (default: target.app).")
@click.option(
    "--compare-values",
    is_flag=True,
    help="Also tell whether config var values differ (keyed digests compared; no value is shown).",
)
@click.option("--process-type", default=None, help="A process type the test scales itself (its size: info).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@scenarios_option
@click.pass_context
def parity_command(
    ctx: click.Context,
    production: str | None,
    staging: str | None,
    compare_values: bool,
    process_type: str | None,
    output_format: str,
    scenarios_path: str,
) -> None:
    """Compare a staging app with its production app: stack, region, process types and commands,
    dyno sizes, add-ons and plans, config var names, deployed commit, buildpacks, maintenance.

    Each difference has a severity and its likely effect on a capacity test; config vars and
    add-ons through which a test would mail, text, bill or call a third party are flagged.
    Exit 1 when a high or medium difference or a side effect is found."""
    target = target_settings(ctx, scenarios_path)
    production = production or (target.production_app if target else None)
    staging = staging or (target.app if target else None)
    if not production or not staging:
        raise ConfigError(
            "name both apps: --production PROD --staging STAGING (or target.production_app and "
            "target.app in scenarios.yaml)",
            field="--production" if not production else "--staging",
        )
    platform = env_platform()
    ctx.call_on_close(platform.client.close)
    key = secrets.token_bytes(32) if compare_values else None  # this comparison's digest key only
    report = compare(
        read_profile(platform.client, production, digest_key=key),
        read_profile(platform.client, staging, digest_key=key),
        tested_process_type=process_type,
        side_effects_ok=target.side_effects_ok if target else (),
    )
    if output_format == "json":
        click.echo(json.dumps({**report.model_dump(mode="json"), "passed": report.passed}, indent=2))
    else:
        click.echo("\n".join(render_table(report)))
    if not report.passed or report.side_effects:
        ctx.exit(EXIT_SLO_FAILED)
