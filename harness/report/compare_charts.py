"""Charts of a release comparison: per-repeat dots, overlaid capacity curves, per-endpoint p95.

Same style and SVG output as `charts.py`. Every input is read from run
directories; the base release is drawn in blue, the new one in orange.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.measurements import TOTAL
from harness.report.charts import _empty, _figure, _legend_room, _svg

__all__ = ["SIDE_COLORS", "curves_chart", "endpoint_p95_chart", "repeats_chart"]

SIDE_COLORS = ("#4c78a8", "#f58518")  # base, new
_MEASURED = {"probe", "bisect", "confirm", "hold"}


def repeats_chart(metric: str, unit: str, base: tuple[str, list[float]], new: tuple[str, list[float]]) -> str:
    """One dot per repeat for each release, with the medians marked: bimodal runs show."""
    name = f"repeats-{metric}"
    if not base[1] and not new[1]:
        return _empty(name, f"{metric} per repeat", "no repeat measured this metric")
    with _figure(name, 1.6, left_in=0.9) as (figure, axes):
        rng = np.random.default_rng(0)
        for row, ((_label, values), color) in enumerate(zip((base, new), SIDE_COLORS, strict=True)):
            if not values:
                continue
            jitter = rng.uniform(-0.12, 0.12, len(values))
            axes.scatter(values, row + jitter, s=22, color=color, alpha=0.85, zorder=3)
            median = float(np.median(values))
            axes.plot([median, median], [row - 0.3, row + 0.3], color=color, linewidth=2.2, zorder=4)
        axes.set_yticks([0, 1], [base[0], new[0]])
        axes.set_ylim(-0.6, 1.6)
        axes.set_xlabel(f"{metric} ({unit})")
        axes.grid(axis="y", visible=False)
        return _svg(figure, f"{metric} per repeat: {base[0]} and {new[0]}")


def _measured(steps: pd.DataFrame) -> pd.DataFrame:
    if steps.empty:
        return steps
    return steps[steps["kind"].isin(_MEASURED) & (steps["requests"] > 0)]


def curves_chart(base: tuple[str, pd.DataFrame], new: tuple[str, pd.DataFrame]) -> str:
    """Throughput against offered load, and p95 against throughput, for both releases' stress steps."""
    name = "compare-curves"
    frames = [(label, _measured(steps)) for label, steps in (base, new)]
    if all(frame.empty for _, frame in frames):
        return _empty(name, "capacity curves", "no measured step in either release")
    with _figure(name, 3.2) as (figure, left):
        figure.clear()
        left = figure.add_subplot(1, 2, 1)
        right = figure.add_subplot(1, 2, 2)
        figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.93, wspace=0.28)
        for (label, frame), color in zip(frames, SIDE_COLORS, strict=True):
            if frame.empty:
                continue
            offered = frame["offered_rps"].fillna(frame["level"])
            served = frame["rps"] - frame["failures_per_s"].fillna(0)
            left.scatter(offered, served, s=14, color=color, alpha=0.75, label=label)
            ordered = frame.assign(served=served).sort_values("served")
            right.scatter(ordered["served"], ordered["p95_ms"], s=14, color=color, alpha=0.75, label=label)
        top = max(float(f["offered_rps"].fillna(f["level"]).max()) for _, f in frames if not f.empty)
        left.plot([0, top], [0, top], color="#999999", linewidth=0.8, linestyle=":", label="ideal")
        left.set_xlabel("offered (req/s)")
        left.set_ylabel("served (req/s)")
        right.set_xlabel("served (req/s)")
        right.set_ylabel("p95 (ms)")
        right.set_yscale("log")
        for axes in (left, right):
            axes.legend(loc="upper left")
            _legend_room(axes)
        return _svg(figure, f"throughput and latency curves of {base[0]} and {new[0]}")


def endpoint_p95_chart(base: tuple[str, pd.DataFrame], new: tuple[str, pd.DataFrame]) -> str:
    """Per-endpoint p95 of the judged windows (median over repeats), side by side."""
    name = "compare-endpoints"
    medians = []
    for label, endpoints in (base, new):
        judged = (
            endpoints[(endpoints["window"] == "judged") & (endpoints["name"] != TOTAL)]
            if not endpoints.empty
            else endpoints
        )
        series = (
            judged.groupby(judged["method"].fillna("") + " " + judged["name"])["p95_ms"].median()
            if not judged.empty
            else pd.Series(dtype=float)
        )
        medians.append((label, series))
    names = sorted(set(medians[0][1].index) | set(medians[1][1].index))
    if not names:
        return _empty(name, "p95 per endpoint", "no judged load window in either release")
    with _figure(name, 0.5 + 0.35 * len(names), left_in=1.8) as (figure, axes):
        y = np.arange(len(names))
        for offset, ((label, series), color) in zip(
            (-0.18, 0.18), zip(medians, SIDE_COLORS, strict=True), strict=True
        ):
            values = [float(series.get(n, np.nan)) for n in names]
            axes.barh(y + offset, values, height=0.34, color=color, label=label)
        axes.set_yticks(y, [n.strip() for n in names])
        axes.invert_yaxis()
        axes.set_xlabel("p95 (ms), median over repeats")
        axes.legend(loc="lower right")
        axes.grid(axis="y", visible=False)
        return _svg(figure, "p95 per endpoint of both releases")
