"""`harness history` and `harness report`: thin commands over harness.results and harness.report."""

from __future__ import annotations

import csv
import io
import json
import webbrowser
from typing import Any

import click

from harness.capacity.planning import plan_for_run
from harness.capacity.verdict import judge_run
from harness.cli.app import app_option, format_choice, format_option, json_alias
from harness.report import render_report
from harness.results import DEFAULT_REPORTS_DIR, RunStore, RunSummary

__all__ = ["echo_unfinished", "history", "report"]

_COLUMNS = [
    "started_at",
    "app",
    "release",
    "status",
    "verdict",
    "breaking_point",
    "headroom",
    "p95_at_expected_ms",
]


def reports_dir_option(f: Any) -> Any:
    """`--reports-dir DIR`: where run directories live (default reports/)."""
    return click.option(
        "--reports-dir",
        type=click.Path(file_okay=False),
        default=str(DEFAULT_REPORTS_DIR),
        show_default=True,
        help="Directory holding one subdirectory per run.",
    )(f)


@click.command()
@app_option
@reports_dir_option
@format_option
@json_alias
@click.option("--csv", "as_csv", is_flag=True, hidden=True, help="Same as --format csv.")
@click.option("--trend", is_flag=True, help="Breaking point and p95 by release, flagging outliers.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False), help="Write the trend as an HTML page.")
def history(
    app: str | None,
    reports_dir: str,
    output_format: str,
    as_json: bool,
    as_csv: bool,
    trend: bool,
    html_path: str | None,
) -> None:
    """List past runs, newest first: release, date, verdict, breaking point, p95 at the expected load.

    --trend shows one line per release instead (medians over its complete runs), flagging a
    release whose value falls outside the range of the earlier ones; --html writes it as a chart."""
    runs = RunStore(reports_dir).history(app=app, judge=judge_run)
    output_format = "json" if as_json else "csv" if as_csv else output_format
    if trend or html_path:
        _trend(app, runs, output_format, html_path)
    elif output_format == "json":
        click.echo(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
    elif output_format == "csv":
        click.echo(_csv(runs), nl=False)
    elif not runs:
        where = f" of {app}" if app else ""
        click.echo(f"No runs{where} under {reports_dir}/. `harness run` writes one.")
    else:
        click.echo(_table(runs))


def _trend(app: str | None, runs: list[RunSummary], output_format: str, html_path: str | None) -> None:
    from harness.comparison.trend import trend

    points = trend(runs)
    if html_path:
        from harness.report.trend_html import render_trend_html

        with open(html_path, "w", encoding="utf-8") as f:
            f.write(render_trend_html(app, points))
    if output_format == "json":
        click.echo(json.dumps([p.model_dump(mode="json") for p in points], indent=2))
        return
    click.echo(f"{'release':<8} {'runs':>4}  {'breaking point':>16}  {'p95':>8}  flags")
    for p in points:
        bp = (
            f"{p.breaking_point:,.0f} {p.breaking_point_unit or ''}"
            if p.breaking_point is not None
            else "n/a"
        )
        p95 = f"{p.p95_ms:,.0f} ms" if p.p95_ms is not None else "n/a"
        click.echo(f"v{p.release:<7} {p.runs:>4}  {bp:>16}  {p95:>8}  {'; '.join(p.flags)}".rstrip())


def _row(summary: RunSummary) -> dict[str, str]:
    point = "n/a"
    if summary.breaking_point is not None:
        point = f"{summary.breaking_point:,.0f} {summary.breaking_point_unit or ''}".strip()
    elif summary.breaking_point_above is not None:  # still good at the search's max
        point = f"> {summary.breaking_point_above:,.0f} {summary.breaking_point_unit or ''}".strip()
    return {
        "started_at": summary.started_at.strftime("%Y-%m-%d %H:%M"),
        "app": summary.app,
        "release": f"v{summary.release}" if summary.release is not None else "?",
        "status": summary.status.value,
        "verdict": summary.verdict,
        "breaking_point": point,
        "headroom": f"{summary.headroom:.2f}×" if summary.headroom is not None else "n/a",
        "p95_at_expected_ms": f"{summary.p95_at_expected_ms:,.0f}"
        if summary.p95_at_expected_ms is not None
        else "n/a",
    }


def _table(runs: list[RunSummary]) -> str:
    headers = {
        "started_at": "date (UTC)",
        "app": "app",
        "release": "release",
        "status": "status",
        "verdict": "verdict",
        "breaking_point": "breaking point",
        "headroom": "headroom",
        "p95_at_expected_ms": "p95 at peak (ms)",
    }
    rows = [_row(r) for r in runs]
    widths = {c: max(len(headers[c]), *(len(row[c]) for row in rows)) for c in _COLUMNS}
    lines = ["  ".join(headers[c].ljust(widths[c]) for c in _COLUMNS)]
    lines += ["  ".join(row[c].ljust(widths[c]) for c in _COLUMNS) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _csv(runs: list[RunSummary]) -> str:
    buffer = io.StringIO()
    fields = list(RunSummary.model_fields)
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        writer.writerow({k: ("" if v is None else v) for k, v in run.model_dump(mode="json").items()})
    return buffer.getvalue()


def echo_unfinished(summary: dict[str, Any]) -> None:
    """Under a verdict, each scenario that did not give its answer: what it did and did not do."""
    for outcome in summary.get("scenario_outcomes") or []:
        if outcome.get("missing"):
            click.echo(f"  {outcome['sentence']}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--output-dir", type=click.Path(file_okay=False), default=None, help="Write there (default: RUN_DIR)."
)
@click.option("--open/--no-open", "open_report", default=False, help="Open report.html in the browser.")
@click.option("--open-browser", type=click.Choice(["yes", "no"]), default=None, hidden=True)
@format_choice("table", "json")
@json_alias
def report(
    run_dir: str,
    output_dir: str | None,
    open_report: bool,
    open_browser: str | None,
    output_format: str,
    as_json: bool,
) -> None:
    """Render RUN_DIR's report.html, summary.json and junit.xml from the run directory alone.

    A run over several formations gets its capacity plan again (each formation's own directory
    under RUN_DIR/formations/ re-renders the same way)."""
    rendered = render_report(run_dir, output_dir, judge=judge_run, planner=plan_for_run)
    open_report = open_report or open_browser == "yes"  # --open-browser yes|no: the older spelling
    if as_json or output_format == "json":
        click.echo(json.dumps(rendered.summary, indent=2, ensure_ascii=False))
    else:
        click.echo(rendered.summary["verdict"])
        echo_unfinished(rendered.summary)
        click.echo(f"report:  {rendered.html}")
        click.echo(f"summary: {rendered.summary_json}")
        click.echo(f"junit:   {rendered.junit_xml}")
    if open_report:
        webbrowser.open(rendered.html.resolve().as_uri())
