"""The report's charts: matplotlib (Agg, no pyplot state) → inline SVG strings.

Each function takes DataFrames read from a run directory and returns an SVG
fragment ready to be placed in HTML: no XML prolog, no namespace URLs, no
metadata, no global `<style>`, text kept as text (small, selectable, scales
with CSS). Long series are averaged into at most `MAX_POINTS` bins, so a
1-hour run at 1-second resolution stays a few tens of kB per chart.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MultipleLocator, NullFormatter

from harness.measurements import TOTAL, BreakingPoint, SearchStatus

__all__ = [
    "MAX_POINTS",
    "endpoint_latency_chart",
    "errors_chart",
    "knee_chart",
    "latency_chart",
    "latency_vs_throughput_chart",
    "throughput_chart",
]

MAX_POINTS = 600  # per plotted series
_WIDTH_IN = 8.0

_JUDGED_KINDS = {"hold", "probe", "bisect", "confirm", "spike", "recovery"}
_COLORS = {"p50": "#4c78a8", "p95": "#f58518", "p99": "#e45756", "rps": "#4c78a8", "users": "#72b7b2"}
_KIND_COLORS = ["#e45756", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#4c78a8", "#eeca3b", "#bab0ac"]
_RC: dict[str, Any] = {
    "svg.fonttype": "none",  # text stays <text>, not paths: smaller and selectable
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 8,
}


def _rc(salt: str) -> Any:
    """The chart style; the hash salt gives each chart's SVG ids their own prefix (no clashes inline)."""
    return {**_RC, "svg.hashsalt": salt}


@contextmanager
def _figure(name: str, height_in: float = 3.0, left_in: float = 0.65) -> Iterator[tuple[Figure, Axes]]:
    """A figure with fixed margins (in inches): constrained layout would draw every chart twice."""
    with matplotlib.rc_context(_rc(name)):
        figure = Figure(figsize=(_WIDTH_IN, height_in))
        figure.subplots_adjust(
            left=left_in / _WIDTH_IN,
            right=1 - 0.65 / _WIDTH_IN,
            bottom=0.5 / height_in,
            top=1 - 0.12 / height_in,
        )
        yield figure, figure.add_subplot()


def _svg(figure: Figure, label: str) -> str:
    """The figure as an inline-ready <svg> element with an accessible label."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_rc(label)):
        figure.savefig(
            buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None}
        )
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text, count=0)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"<style[^>]*>.*?</style>", "", text, flags=re.S)
    # matplotlib numbers every artist per figure (id="patch_1"): unreferenced, and duplicated across charts.
    text = re.sub(r'\sid="[A-Za-z][\w.]*_\d+"', "", text)
    text = re.sub(r'<svg[^>]*?\swidth="[^"]*"\s+height="[^"]*"', _open_tag, text, count=1)
    return text.replace("<svg", f'<svg class="chart" role="img" aria-label="{label}"', 1)


def _open_tag(match: re.Match[str]) -> str:
    """Drop the fixed width/height so CSS sizes the chart (the viewBox keeps its proportions)."""
    return re.sub(r'\s(width|height)="[^"]*"', "", match.group(0))


def _empty(name: str, label: str, message: str) -> str:
    with _figure(name, 1.2) as (figure, axes):
        axes.axis("off")
        axes.text(0.5, 0.5, message, ha="center", va="center", color="#666666", transform=axes.transAxes)
        return _svg(figure, label)


def _totals(timeseries: pd.DataFrame) -> pd.DataFrame:
    """The all-endpoints rows with elapsed seconds since the run's first point, binned to MAX_POINTS."""
    total = timeseries[timeseries["name"] == TOTAL].sort_values("ts")
    if total.empty:
        return total
    t0 = float(total["ts"].min())
    span = float(total["ts"].max()) - t0
    bin_s = max(1.0, np.ceil(span / MAX_POINTS))
    frame = total.assign(elapsed_s=((total["ts"] - t0) // bin_s) * bin_s)
    columns = ["users", "offered_rps", "rps", "failures_per_s", "p50_ms", "p95_ms", "p99_ms"]
    numeric = frame[["elapsed_s", *columns]].astype("float64")
    return numeric.groupby("elapsed_s", as_index=False).mean()


def _time_axis(axes: Axes) -> None:
    """Label elapsed time in seconds, or in whole minutes once the run is longer than 15 minutes."""
    low, high = axes.get_xlim()
    span_min = (high - low) / 60
    if span_min <= 15:
        axes.set_xlabel("time since start (s)")
        return
    step_min = next((m for m in (2, 5, 10, 15, 30, 60, 120) if span_min / m <= 10), 240)
    axes.xaxis.set_major_locator(MultipleLocator(step_min * 60))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value / 60:g}"))
    axes.set_xlabel("time since start (min)")


def _t0(timeseries: pd.DataFrame) -> float:
    total = timeseries[timeseries["name"] == TOTAL]
    return float(total["ts"].min()) if not total.empty else 0.0


def _gaps_to_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """Insert NaN rows where consecutive points are far apart, so lines do not bridge scenario gaps."""
    if len(frame) < 3:
        return frame
    step = float(frame["elapsed_s"].diff().median())
    gaps = frame.loc[frame["elapsed_s"].diff() > 5 * step, "elapsed_s"] - step
    filler = pd.DataFrame({"elapsed_s": gaps.to_numpy()})
    return pd.concat([frame, filler]).sort_values("elapsed_s", kind="stable")


def _step_bands(axes: Axes, steps: pd.DataFrame, t0: float) -> None:
    """Shade each measured step: green when it met the SLOs, red when it broke them."""
    for row in steps.to_dict("records"):
        if str(row["kind"]) not in _JUDGED_KINDS:
            continue
        color = "#54a24b" if bool(row["ok"]) else "#e45756"
        axes.axvspan(float(row["start_ts"]) - t0, float(row["end_ts"]) - t0, color=color, alpha=0.08, lw=0)


def throughput_chart(timeseries: pd.DataFrame, steps: pd.DataFrame, point: BreakingPoint | None) -> str:
    """Achieved req/s and users over time, with step bands and the breaking point marked."""
    label = "Throughput and users over time"
    data = _gaps_to_nan(_totals(timeseries))
    if data.empty:
        return _empty("throughput", label, "No time series was recorded")
    t0 = _t0(timeseries)
    with _figure("throughput") as (figure, axes):
        _step_bands(axes, steps, t0)
        axes.plot(data["elapsed_s"], data["rps"], color=_COLORS["rps"], lw=1.2, label="achieved req/s")
        if data["offered_rps"].notna().any():
            axes.plot(
                data["elapsed_s"],
                data["offered_rps"],
                color="#888888",
                lw=0.8,
                ls="--",
                label="offered req/s",
            )
        if point is not None and point.status == SearchStatus.FOUND and point.sustainable_rps is not None:
            axes.axhline(point.sustainable_rps, color="#e45756", lw=1, ls=":")
            axes.annotate(
                f"breaking point {point.sustainable_rps:,.0f} req/s",
                (0.01, point.sustainable_rps),
                xycoords=("axes fraction", "data"),
                textcoords="offset points",
                xytext=(0, 3),
                color="#e45756",
                fontsize=8,
            )
        _time_axis(axes)
        axes.set_ylabel("req/s")
        axes.set_ylim(bottom=0)
        _legend_room(axes)
        users_axes = axes.twinx()
        users_axes.plot(data["elapsed_s"], data["users"], color=_COLORS["users"], lw=0.9, label="users")
        users_axes.set_ylabel("users")
        users_axes.set_ylim(bottom=0)
        _legend_room(users_axes)
        users_axes.grid(False)
        handles = axes.get_legend_handles_labels()[0] + users_axes.get_legend_handles_labels()[0]
        axes.legend(handles=handles, loc="upper left", ncols=3)
        return _svg(figure, label)


def latency_chart(timeseries: pd.DataFrame, steps: pd.DataFrame, slo_ms: dict[str, float]) -> str:
    """p50/p95/p99 of all endpoints over time, with the SLO limits as dashed lines."""
    label = "Latency percentiles over time"
    data = _gaps_to_nan(_totals(timeseries))
    if data.empty:
        return _empty("latency", label, "No time series was recorded")
    with _figure("latency") as (figure, axes):
        _step_bands(axes, steps, _t0(timeseries))
        for name in ("p50", "p95", "p99"):
            axes.plot(data["elapsed_s"], data[f"{name}_ms"], color=_COLORS[name], lw=1.1, label=name)
        _slo_lines(axes, slo_ms)
        _time_axis(axes)
        axes.set_ylabel("ms")
        axes.set_ylim(bottom=0)
        _legend_room(axes)
        axes.legend(loc="upper left", ncols=6)
        return _svg(figure, label)


def _slo_lines(axes: Axes, slo_ms: dict[str, float]) -> None:
    for name, limit in sorted(slo_ms.items()):
        color = _COLORS.get(name, "#666666")
        axes.axhline(limit, color=color, lw=0.9, ls="--", label=f"{name} SLO {limit:g} ms")


def errors_chart(errors: pd.DataFrame, steps: pd.DataFrame, timeseries: pd.DataFrame) -> str:
    """Failures per second by kind, per step window (stacked); else the per-second total."""
    label = "Errors over time by kind"
    per_step = errors[errors["step"].notna()].merge(
        steps[["scenario", "index", "start_ts", "end_ts"]],
        left_on=["scenario", "step"],
        right_on=["scenario", "index"],
    )
    if per_step.empty:
        return _failures_line(timeseries, label)
    t0 = _t0(timeseries) if not timeseries.empty else float(steps["start_ts"].min())
    per_step = per_step.assign(
        start=per_step["start_ts"] - t0, width=per_step["end_ts"] - per_step["start_ts"]
    )
    grouped = per_step.groupby(["kind", "start", "width"], as_index=False)["count"].sum()
    with _figure("errors") as (figure, axes):
        bottoms: dict[float, float] = {}
        for i, (kind, rows) in enumerate(grouped.groupby("kind")):
            rates = rows["count"] / rows["width"].clip(lower=1e-9)
            base = [bottoms.get(s, 0.0) for s in rows["start"]]
            color = _KIND_COLORS[i % len(_KIND_COLORS)]
            axes.bar(
                rows["start"],
                rates,
                width=rows["width"],
                bottom=base,
                align="edge",
                color=color,
                label=str(kind),
            )
            for start, rate, below in zip(rows["start"], rates, base, strict=True):
                bottoms[start] = below + rate
        span = _span(timeseries, steps, t0)
        axes.set_xlim(-0.02 * span, span * 1.02)
        _time_axis(axes)
        axes.set_ylabel("failures/s")
        _legend_room(axes)
        axes.legend(loc="upper left", ncols=4)
        return _svg(figure, label)


def _span(timeseries: pd.DataFrame, steps: pd.DataFrame, t0: float) -> float:
    """Seconds from the first to the last measured moment of the run."""
    ends = [float(steps["end_ts"].max())] if not steps.empty else []
    if not timeseries.empty:
        ends.append(float(timeseries["ts"].max()) + 1)
    return max(1.0, max(ends, default=t0 + 1) - t0)


def _legend_room(axes: Axes) -> None:
    """Raise the y-axis top by a quarter so the legend at the top does not cover the data."""
    bottom, top = axes.get_ylim()
    axes.set_ylim(bottom, top + 0.25 * (top - bottom))


def _failures_line(timeseries: pd.DataFrame, label: str) -> str:
    data = _totals(timeseries)
    if data.empty or not (data["failures_per_s"].fillna(0) > 0).any():
        return _empty("errors", label, "No failed requests")
    data = _gaps_to_nan(data)
    with _figure("errors") as (figure, axes):
        axes.plot(data["elapsed_s"], data["failures_per_s"], color="#e45756", lw=1.1, label="failures/s")
        _time_axis(axes)
        axes.set_ylabel("failures/s")
        axes.legend(loc="upper left")
        return _svg(figure, label)


def _judged_steps(steps: pd.DataFrame) -> pd.DataFrame:
    return steps[steps["kind"].isin(list(_JUDGED_KINDS))]


def knee_chart(steps: pd.DataFrame, point: BreakingPoint | None) -> str:
    """Achieved throughput against the offered load per step: where it stops following is the knee."""
    label = "Throughput vs offered load"
    data = _judged_steps(steps)
    if data.empty:
        return _empty("knee", label, "No measured steps")
    arrival = (data["mode"] == "arrival_rate").all()
    with _figure("knee") as (figure, axes):
        for ok, rows in data.groupby(data["ok"].astype(bool)):
            axes.scatter(
                rows["level"],
                rows["rps"],
                s=22,
                color="#54a24b" if ok else "#e45756",
                label="met the SLOs" if ok else "broke an SLO",
                zorder=3,
            )
        ordered = data.sort_values("level").groupby("level", as_index=False)["rps"].max()
        axes.plot(ordered["level"], ordered["rps"], color="#999999", lw=0.8)
        if arrival:
            top = float(max(data["level"].max(), data["rps"].max()))
            axes.plot(
                [0, top], [0, top], color="#bbbbbb", lw=0.8, ls="--", label="ideal (achieved = offered)"
            )
        if point is not None and point.status == SearchStatus.FOUND and point.level is not None:
            axes.axvline(point.level, color="#e45756", lw=1, ls=":", label="breaking point")
        axes.set_xlabel("offered load (req/s)" if arrival else "users")
        axes.set_ylabel("achieved req/s")
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
        axes.legend(loc="upper left")
        return _svg(figure, label)


def latency_vs_throughput_chart(steps: pd.DataFrame, slo_ms: dict[str, float]) -> str:
    """p50/p95/p99 of each measured step against its achieved throughput, with the SLO lines."""
    label = "Latency vs throughput"
    data = _judged_steps(steps).sort_values("rps")
    if data.empty:
        return _empty("latency-throughput", label, "No measured steps")
    with _figure("latency-throughput") as (figure, axes):
        for name in ("p50", "p95", "p99"):
            axes.plot(
                data["rps"], data[f"{name}_ms"], marker="o", ms=3, lw=1, color=_COLORS[name], label=name
            )
        _slo_lines(axes, slo_ms)
        axes.set_xlabel("achieved req/s")
        axes.set_ylabel("ms")
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
        _legend_room(axes)
        axes.legend(loc="upper left", ncols=6)
        return _svg(figure, label)


def endpoint_latency_chart(endpoints: pd.DataFrame) -> str:
    """Each endpoint's latency distribution as its p50–p99 range, with p95 and max marked (log scale)."""
    label = "Latency distribution per endpoint"
    data = endpoints[(endpoints["name"] != TOTAL) & endpoints["p50_ms"].notna()]
    if data.empty:
        return _empty("endpoints", label, "No per-endpoint measurements")
    data = data.iloc[::-1]
    names = [f"{m} {n}".strip() for m, n in zip(data["method"].fillna(""), data["name"], strict=True)]
    y = np.arange(len(names))
    left_in = min(3.5, 0.35 + 0.065 * max(len(n) for n in names))
    with _figure("endpoints", height_in=max(1.6, 0.28 * len(names) + 0.9), left_in=left_in) as (figure, axes):
        axes.hlines(y, data["p50_ms"], data["p99_ms"], color="#4c78a8", lw=5, alpha=0.45, label="p50–p99")
        axes.scatter(data["p50_ms"], y, color="#4c78a8", s=14, zorder=3, label="p50")
        axes.scatter(data["p95_ms"], y, color="#f58518", s=18, marker="D", zorder=3, label="p95")
        axes.scatter(data["max_ms"], y, color="#e45756", s=16, marker="|", zorder=3, label="max")
        axes.set_yticks(y, names)
        axes.set_xscale("log")
        axes.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlabel("ms (log scale)")
        axes.legend(loc="lower right", ncols=4)
        return _svg(figure, label)
