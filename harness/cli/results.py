"""`harness history` and `harness report`: thin commands over harness.results and harness.report."""

from __future__ import annotations

import csv
import io
import json
import webbrowser
from typing import Any

import click

from harness.capacity.verdict import judge_run
from harness.cli.app import app_option, format_option
from harness.report import render_report
from harness.results import DEFAULT_REPORTS_DIR, RunStore, RunSummary

__all__ = ["history", "report"]

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
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option("--csv", "as_csv", is_flag=True, help="Same as --format csv.")
def history(app: str | None, reports_dir: str, output_format: str, as_json: bool, as_csv: bool) -> None:
    """List past runs, newest first: release, date, verdict, breaking point, p95 at the expected load."""
    runs = RunStore(reports_dir).history(app=app, judge=judge_run)
    output_format = "json" if as_json else "csv" if as_csv else output_format
    if output_format == "json":
        click.echo(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
    elif output_format == "csv":
        click.echo(_csv(runs), nl=False)
    elif not runs:
        where = f" of {app}" if app else ""
        click.echo(f"No runs{where} under {reports_dir}/. `harness run` writes one.")
    else:
        click.echo(_table(runs))


def _row(summary: RunSummary) -> dict[str, str]:
    point = "n/a"
    if summary.breaking_point is not None:
        point = f"{summary.breaking_point:,.0f} {summary.breaking_point_unit or ''}".strip()
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


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--output-dir", type=click.Path(file_okay=False), default=None, help="Write there (default: RUN_DIR)."
)
@click.option(
    "--open-browser",
    type=click.Choice(["yes", "no"]),
    default="no",
    show_default=True,
    help="Open report.html in the default browser.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the machine summary as JSON on stdout.")
def report(run_dir: str, output_dir: str | None, open_browser: str, as_json: bool) -> None:
    """Render RUN_DIR's report.html, summary.json and junit.xml from the run directory alone."""
    rendered = render_report(run_dir, output_dir, judge=judge_run)
    if as_json:
        click.echo(json.dumps(rendered.summary, indent=2, ensure_ascii=False))
    else:
        click.echo(rendered.summary["verdict"])
        click.echo(f"report:  {rendered.html}")
        click.echo(f"summary: {rendered.summary_json}")
        click.echo(f"junit:   {rendered.junit_xml}")
    if open_browser == "yes":
        webbrowser.open(rendered.html.resolve().as_uri())
