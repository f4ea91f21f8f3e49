"""The comparison report: one self-contained HTML page, the verdict sentence first.

Rendered from a `Comparison` and the run directories it names (for the
curves and per-endpoint figures), in the style of the capacity report.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from harness import __version__
from harness.comparison.model import Comparison
from harness.report import compare_charts
from harness.report.html import Chart, _environment
from harness.results.store import RunStore

__all__ = ["render_comparison_html"]


def _frames(store: RunStore, run_ids: list[str], attribute: str) -> pd.DataFrame:
    parts = [getattr(store.open(run_id), attribute) for run_id in run_ids]
    parts = [p for p in parts if not p.empty]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _stress_steps(steps: pd.DataFrame) -> pd.DataFrame:
    return steps[steps["kind"].isin({"probe", "bisect", "confirm"})] if not steps.empty else steps


def render_comparison_html(result: Comparison, store: RunStore) -> str:
    """The comparison as one HTML document (charts inline as SVG, no external resources)."""
    base, new = result.base, result.new
    steps = {s.label: _stress_steps(_frames(store, s.run_ids, "steps")) for s in (base, new)}
    endpoints = {s.label: _frames(store, s.run_ids, "endpoints") for s in (base, new)}
    repeat_charts = [
        Chart(
            f"{m.metric} per repeat",
            f"One dot per repeat; the bar is the median. {m.sentence}.",
            compare_charts.repeats_chart(
                m.metric,
                m.unit,
                (base.label, base.values.get(_key(m.metric), [])),
                (new.label, new.values.get(_key(m.metric), [])),
            ),
        )
        for m in result.metrics
    ]
    charts = [
        Chart(
            "Capacity curves",
            "Left: served against offered load in the stress search of every repeat (the dotted line is "
            "ideal). Right: p95 latency against served throughput.",
            compare_charts.curves_chart((base.label, steps[base.label]), (new.label, steps[new.label])),
        ),
        Chart(
            "p95 per endpoint",
            "The judged window of the expected-load scenario, median over the repeats.",
            compare_charts.endpoint_p95_chart(
                (base.label, endpoints[base.label]), (new.label, endpoints[new.label])
            ),
        ),
    ]
    template = _environment().get_template("compare.html.j2")
    return template.render(
        c=result,
        repeat_charts=repeat_charts,
        charts=charts,
        generated=datetime.now(UTC),
        renderer_version=__version__,
    )


def _key(label: str) -> str:
    from harness.comparison.run import METRICS

    return next(spec.name for spec in METRICS if spec.label == label)
