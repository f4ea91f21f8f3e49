"""`harness compare BASE NEW`: is the new release slower than the base? A verdict with confidence."""

from __future__ import annotations

import json

import click

from harness.capacity.compare import MetricComparison, Outcome
from harness.cli.app import format_choice
from harness.comparison import Comparison, GateOutcome, compare_sides, resolve_side
from harness.comparison.run import DEFAULT_GATES, METRICS
from harness.errors import EXIT_INCONCLUSIVE, EXIT_OK, EXIT_SLO_FAILED, ConfigError
from harness.measurements import format_number
from harness.results.store import DEFAULT_REPORTS_DIR, RunStore

__all__ = ["compare_command", "exit_code_for", "render_table"]

_GATE_EXIT = {GateOutcome.PASS: EXIT_OK, GateOutcome.REGRESSED: EXIT_SLO_FAILED}


@click.command("compare")
@click.argument("base", required=False)
@click.argument("new", required=False)
@click.option("--app", "-a", default=None, help="The app whose runs to compare (for releases).")
@click.option(
    "--release", "releases", multiple=True, help="With --app: a release, twice (base, then new), e.g. v51."
)
@click.option("--reports-dir", type=click.Path(file_okay=False), default=str(DEFAULT_REPORTS_DIR))
@click.option(
    "--margin",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.05,
    show_default=True,
    help="Practical margin δ: smaller changes are not called regressions.",
)
@click.option(
    "--gate",
    "gates",
    multiple=True,
    type=click.Choice([m.name for m in METRICS]),
    help=f"Gate metric (repeatable; default: {', '.join(DEFAULT_GATES)}); the rest are informational.",
)
@click.option("--strict", is_flag=True, help="Refuse when the runs are not comparable.")
@click.option(
    "--inconclusive",
    type=click.Choice(["code", "fail", "pass"]),
    default="code",
    show_default=True,
    help="Exit for an undecided gate: 5 (code), 1 (fail) or 0 (pass).",
)
@click.option(
    "--html", "html_path", type=click.Path(dir_okay=False), help="Write the HTML comparison report."
)
@click.option(
    "--junit", "junit_path", type=click.Path(dir_okay=False), help="Write JUnit XML (one case per gate)."
)
@format_choice("table", "json")
@click.pass_context
def compare_command(
    ctx: click.Context,
    base: str | None,
    new: str | None,
    app: str | None,
    releases: tuple[str, ...],
    reports_dir: str,
    margin: float,
    gates: tuple[str, ...],
    strict: bool,
    inconclusive: str,
    html_path: str | None,
    junit_path: str | None,
    output_format: str,
) -> None:
    """Compare NEW against BASE: run directories, run ids, series ids, or releases (v51 with --app).

    Each run is one independent repeat. For every metric: both medians with a 95 % interval, the
    change with a bootstrap interval, the Mann-Whitney p-value, and a verdict against the margin:
    regressed, improved, no significant change, or inconclusive. Fewer than 4 repeats a side give no
    verdict. Exit codes: 0 no regression proven, 1 regressed, 2 usage, 5 inconclusive."""
    base_spec, new_spec = _specs(base, new, releases)
    store = RunStore(reports_dir)
    result = compare_sides(
        resolve_side(base_spec, store, app=app),
        resolve_side(new_spec, store, app=app),
        margin=margin,
        gates=gates or DEFAULT_GATES,
        strict=strict,
    )
    if output_format == "json":
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo(render_table(result))
    if html_path:
        from harness.report.compare_html import render_comparison_html

        with open(html_path, "w", encoding="utf-8") as f:
            f.write(render_comparison_html(result, store))
    if junit_path:
        from harness.report.compare_junit import comparison_junit

        with open(junit_path, "w", encoding="utf-8") as f:
            f.write(comparison_junit(result))
    ctx.exit(exit_code_for(result.outcome, inconclusive))


def _specs(base: str | None, new: str | None, releases: tuple[str, ...]) -> tuple[str, str]:
    if base and new and not releases:
        return base, new
    if not base and not new and len(releases) == 2:
        return releases[0], releases[1]
    raise ConfigError(
        "give BASE and NEW (run directories, run ids, series ids or releases), or --app APP with "
        "--release twice (base first), e.g. `harness compare --app shop --release v51 --release v52`."
    )


def exit_code_for(outcome: GateOutcome, inconclusive: str) -> int:
    """The gate's exit code: 0 pass, 1 regressed, and for inconclusive 5 (or 1/0 as asked)."""
    if outcome is GateOutcome.INCONCLUSIVE:
        return {"code": EXIT_INCONCLUSIVE, "fail": EXIT_SLO_FAILED, "pass": EXIT_OK}[inconclusive]
    return _GATE_EXIT[outcome]


def _centre(metric: MetricComparison, side: str) -> str:
    c = metric.base if side == "base" else metric.new
    if c.median is None:
        return "n/a"
    value = _value(c.median, metric.unit)
    if c.low is None or c.high is None or c.median == 0:
        return f"{value} ±∞"
    spread = max(c.high / c.median - 1, 1 - c.low / c.median) * 100
    return f"{value} ±{spread:.0f}%"


def _value(value: float, unit: str) -> str:
    return f"{value * 100:.2f}%" if unit == "ratio" else format_number(value)


def _change(metric: MetricComparison) -> str:
    if metric.change is None or metric.outcome is Outcome.TOO_FEW:
        return "n/a"
    c = metric.change
    text = f"{c.ratio * 100:+.1f}% ({c.low * 100:+.0f} … {c.high * 100:+.0f}%)"
    return f"~ {text}" if metric.outcome in {Outcome.NO_CHANGE, Outcome.INCONCLUSIVE} else text


def render_table(result: Comparison) -> str:
    """benchstat-style: one row per metric, `~` where no change is proven, then the sentence."""
    header = [
        "metric",
        f"{result.base.label} (n={len(result.base.run_ids)})",
        f"{result.new.label} (n={len(result.new.run_ids)})",
        "change",
        "p",
        "verdict",
    ]
    rows = [header]
    for m in result.metrics:
        unit = "%" if m.unit == "ratio" else m.unit
        p = f"{m.p_value:.3f}" if m.p_value is not None else "n/a"
        verdict = m.outcome.value + (" [gate]" if m.gate else "")
        rows.append([f"{m.metric} ({unit})", _centre(m, "base"), _centre(m, "new"), _change(m), p, verdict])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines += ["", result.sentence]
    lines += [f"  {m.sentence}" for m in result.metrics if m.gate]
    lines += [f"warning: {w.what}: {w.detail}" for w in result.warnings]
    return "\n".join(lines)


def as_json(result: Comparison) -> str:
    """The comparison as JSON (what `--format json` prints)."""
    return json.dumps(result.model_dump(mode="json"), indent=2)
