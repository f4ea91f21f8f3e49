"""The stakeholder's report: one self-contained HTML file rendered from a run directory only.

Inline CSS, charts as inline SVG, no script, no request of any kind: the file
reads the same from an e-mail attachment, a phone or paper. Sections follow
the order a stakeholder reads (issue 6): verdict, what was tested, charts,
tables, how it was run. The report links nowhere: any URL in the run's text
(e.g. Locust's CPU warning) other than the tested app's own is shown without
its scheme.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness import __version__
from harness.errors import sentence
from harness.measurements import TOTAL, LevelMode
from harness.report import charts
from harness.report.outcomes import run_outcomes
from harness.report.server_section import server_section
from harness.report.summary import checks, criterion_label, metastability_text, verdict_sentence
from harness.results.model import RunRecord, RunStatus, ScenarioEntry, format_number
from harness.results.store import RunDir

__all__ = ["Chart", "render_html"]

_LATENCY_CRITERIA = {"p50_ms": "p50", "p95_ms": "p95", "p99_ms": "p99"}


@dataclass(frozen=True)
class Chart:
    """A chart of the report: its heading, what to read from it, and the SVG."""

    title: str
    caption: str
    svg: str


def render_html(run: RunDir) -> str:
    """The report of a run directory as one HTML document."""
    template = _environment().get_template("report.html.j2")
    html = template.render(**_context(run))
    return _without_foreign_urls(html, run.record.platform.app_url)


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, ms=_ms, pct=_pct, when=_when, duration=_duration, usd=_usd, size=_size)
    return env


def _context(run: RunDir) -> dict[str, Any]:
    record = run.record
    slo_ms = _latency_slos(record)
    return {
        "r": record,
        "title": f"{record.app} v{record.release.version}" if record.release.version else record.app,
        "sentence": verdict_sentence(record),
        "passed": (record.verdict.passed if record.verdict else None),
        "checks": checks(record),
        "banner": _banner(record),
        "metastability": record.breaking_point.metastability if record.breaking_point else None,
        "metastability_text": metastability_text(record),
        "warnings": _generator_warnings(run),
        "criterion_label": criterion_label,
        "charts": _charts(run, slo_ms),
        "endpoint_tables": [_endpoint_table(run, s) for s in record.scenarios],
        "errors": _error_rows(run.errors),
        "steps": _step_rows(run.steps),
        "scenarios": [_scenario_row(s) for s in record.scenarios],
        "events": [_event_row(e) for e in run.events],
        "server": server_section(run),
        "generated": datetime.now(UTC),
        "renderer_version": __version__,
    }


def _banner(record: RunRecord) -> str | None:
    """Why the figures are partial, then what each unfinished scenario did and did not do."""
    banner = _status_banner(record)
    unfinished = [o.sentence() for o in run_outcomes(record) if not o.complete]
    if banner is None or not unfinished:
        return banner
    return f"{banner} " + sentence("; ".join(unfinished))


def _status_banner(record: RunRecord) -> str | None:
    if record.status == RunStatus.INCOMPLETE:
        why = sentence(record.failure or "it was interrupted")
        return f"Incomplete run: {why} The figures below are partial."
    if record.status == RunStatus.FAILED:
        why = sentence(record.failure or "a harness error ended it")
        return f"Failed run: {why} The figures below are partial."
    if record.status == RunStatus.RUNNING:
        return "This run is still in progress: the figures below are partial."
    return None


def _generator_warnings(run: RunDir) -> list[str]:
    """Load-generator saturation: Locust's CPU warnings and steps measured above 90 % CPU."""
    record = run.record
    per_scenario = [(s.name, w) for s in record.scenarios for w in s.cpu_warnings]
    said = {w for _, w in per_scenario}
    warnings = [w for w in record.load_generator.cpu_warnings if w not in said]
    warnings += [f"{name}: {w}" for name, w in per_scenario]
    steps = run.steps
    saturated = steps[steps["generator_saturated"].astype(bool)] if not steps.empty else steps
    for row in _records(saturated):
        cpu = row["generator_cpu_percent"]
        shown = "" if cpu is None else f" ({float(cpu):.0f} % CPU)"
        step = row["label"] or row["index"]
        warnings.append(
            f"{row['scenario']}: step {step} was measured with the load generator saturated{shown}"
        )
    return list(dict.fromkeys(warnings))


def _latency_slos(record: RunRecord) -> dict[str, float]:
    """The all-endpoint latency limits judged in this run: {'p95': 300.0} (the tightest of each)."""
    limits: dict[str, float] = {}
    for scenario in record.scenarios:
        for verdict in scenario.verdicts:
            name = _LATENCY_CRITERIA.get(verdict.criterion)
            if name and verdict.endpoint is None:
                limits[name] = min(limits.get(name, verdict.threshold), verdict.threshold)
    if not limits:  # nothing judged yet (an interrupted run): the limits the scenarios were given
        for scenario in record.scenarios:
            for criterion, name in _LATENCY_CRITERIA.items():
                value = getattr(scenario.limits, criterion, None) if scenario.limits else None
                if value is not None:
                    limits[name] = min(limits.get(name, value), value)
    return limits


def _charts(run: RunDir, slo_ms: dict[str, float]) -> list[Chart]:
    point = run.record.breaking_point
    judged = run.endpoints[run.endpoints["window"] == "judged"]
    per_endpoint = judged if not judged.empty else _best_step_endpoints(run)
    return [
        Chart(
            "Throughput and users over time",
            "Achieved requests per second (all endpoints) and running users. Bands mark measured steps: "
            "green met the SLOs, red broke one. The dotted line is the breaking point.",
            charts.throughput_chart(run.timeseries, run.steps, point),
        ),
        Chart(
            "Latency over time",
            "p50, p95 and p99 response times of all endpoints, per second; dashed lines are the SLO limits.",
            charts.latency_chart(run.timeseries, run.steps, slo_ms),
        ),
        Chart(
            "Errors over time",
            "Failed requests per second by kind, per measured step.",
            charts.errors_chart(run.errors, run.steps, run.timeseries),
        ),
        Chart(
            "Throughput vs offered load",
            "Each measured step: what was asked for against what was served. Where the points leave the "
            "diagonal, the app stopped keeping up (the knee).",
            charts.knee_chart(run.steps, point),
        ),
        Chart(
            "Latency vs throughput",
            "Latency of each measured step against the throughput it achieved, with the SLO limits.",
            charts.latency_vs_throughput_chart(run.steps, slo_ms),
        ),
        Chart(
            "Latency distribution per endpoint",
            "p50 to p99 range, p95 and maximum of each endpoint "
            + (
                "in the judged window of the load scenario."
                if not judged.empty
                else "at the highest good step."
            ),
            charts.endpoint_latency_chart(_first_scenario(per_endpoint)),
        ),
    ]


def _first_scenario(endpoints: pd.DataFrame) -> pd.DataFrame:
    if endpoints.empty:
        return endpoints
    return endpoints[endpoints["scenario"] == endpoints["scenario"].iloc[0]]


def _best_step_endpoints(run: RunDir) -> pd.DataFrame:
    """Per-endpoint rows of the highest step that met the SLOs (else the last step)."""
    steps = run.steps
    if steps.empty:
        return run.endpoints.iloc[0:0]
    good = steps[steps["ok"].astype(bool)]
    pick = good.sort_values("rps").iloc[-1] if not good.empty else steps.iloc[-1]
    rows = run.endpoints
    return rows[
        (rows["window"] == "step") & (rows["scenario"] == pick["scenario"]) & (rows["step"] == pick["index"])
    ]


def _endpoint_table(run: RunDir, scenario: ScenarioEntry) -> dict[str, Any]:
    """Per-endpoint stats of a scenario: its judged window, else the highest step that met the SLOs."""
    rows = run.endpoints[run.endpoints["scenario"] == scenario.name]
    judged = rows[rows["window"] == "judged"]
    if not judged.empty:
        window, selected = "judged window (the measured hold)", judged
    else:
        steps = run.steps[run.steps["scenario"] == scenario.name]
        good = steps[steps["ok"].astype(bool)]
        pick = (
            good.sort_values("rps").iloc[-1]
            if not good.empty
            else (steps.iloc[-1] if not steps.empty else None)
        )
        if pick is None:
            return {"scenario": scenario.name, "window": "no measured window", "rows": []}
        selected = rows[(rows["window"] == "step") & (rows["step"] == pick["index"])]
        unit = LevelMode(pick["mode"]).unit
        level = format_number(float(pick["level"]))
        window = f"step {pick['label'] or pick['index']} at {level} {unit} ({pick['kind']})"
    ordered = pd.concat([selected[selected["name"] != TOTAL], selected[selected["name"] == TOTAL]])
    return {"scenario": scenario.name, "window": window, "rows": _records(ordered)}


def _error_rows(errors: pd.DataFrame) -> list[dict[str, Any]]:
    """Errors by scenario, kind, status and endpoint, with counts and one example message."""
    if errors.empty:
        return []
    scenario_level = errors[errors["step"].isna()]
    source = scenario_level if not scenario_level.empty else errors
    keys = ["scenario", "kind", "status", "method", "name"]
    grouped = (
        source.fillna({"status": -1, "method": ""})
        .groupby(keys, as_index=False, sort=False)
        .agg(count=("count", "sum"), example=("example", "first"))
        .sort_values(["scenario", "count"], ascending=[True, False])
    )
    grouped["status"] = grouped["status"].where(grouped["status"] >= 0, None)
    return _records(grouped)


def _step_rows(steps: pd.DataFrame) -> list[dict[str, Any]]:
    return _records(steps)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts with NaN/NA turned into None (templates show 'n/a')."""
    return [
        {str(k): (None if _missing(v) else v) for k, v in row.items()} for row in frame.to_dict("records")
    ]


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _scenario_row(scenario: ScenarioEntry) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "kind": scenario.kind,
        "mode": "arrival rate" if scenario.mode.value == "arrival_rate" else "users",
        "status": scenario.status,
        "started": datetime.fromtimestamp(scenario.started_ts, UTC),
        "duration_s": scenario.ended_ts - scenario.started_ts,
        "steps": scenario.step_count,
        "workers": scenario.workers,
        "abort_reason": scenario.abort_reason,
        "recovery": scenario.recovery,
        "config": json.dumps(scenario.config, indent=1, sort_keys=True) if scenario.config else "",
    }


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in event.items() if k not in {"ts", "event"}}
    ts = event.get("ts")
    return {
        "when": datetime.fromtimestamp(ts, UTC) if isinstance(ts, int | float) else None,
        "event": str(event.get("event", "")),
        "fields": ", ".join(f"{k}={v}" for k, v in fields.items()),
    }


def _without_foreign_urls(html: str, app_url: str | None) -> str:
    """Strip the scheme from every URL that is not the tested app's own, so nothing is a link elsewhere."""
    allowed = ""
    if app_url:
        parts = urlsplit(app_url)
        allowed = f"(?!{re.escape(parts.netloc)}(?:[/\"'<\\s]|$))" if parts.netloc else ""
    return re.sub(rf"\bhttps?://{allowed}", "", html, flags=re.I)


def _num(value: Any) -> str:
    return "n/a" if value is None or _missing(value) else format_number(float(value))


def _ms(value: Any) -> str:
    return "n/a" if value is None or _missing(value) else f"{float(value):,.0f} ms"


def _pct(value: Any) -> str:
    return "n/a" if value is None or _missing(value) else f"{float(value) * 100:.2f} %"


def _usd(value: Any) -> str:
    if value is None or _missing(value):
        return "n/a"
    return f"${float(value):,.2f}" if float(value) >= 1 else f"${float(value):.4f}"


def _size(value: Any) -> str:
    return "n/a" if value is None else f"{int(value) / 1_000_000:,.1f} MB"


def _when(value: datetime | None) -> str:
    return "n/a" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None or _missing(seconds):
        return "n/a"
    minutes, secs = divmod(round(float(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{float(seconds):.1f} s"
