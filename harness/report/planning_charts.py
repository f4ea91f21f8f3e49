"""The capacity-planning charts: capacity vs dynos (ideal line, fitted curve and band), efficiency.

Same style and SVG post-processing as `charts.py`; the inputs are plain
series the planning section prepares (`Curve`), so these functions only draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from matplotlib.ticker import FuncFormatter, MaxNLocator

from harness.report.charts import _empty, _figure, _svg

__all__ = ["Curve", "capacity_chart", "efficiency_chart"]

_SIZE_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d"]


@dataclass(frozen=True)
class Curve:
    """One dyno size: measured points, the ideal line and, when fitted, the model with its band."""

    size: str
    points: list[tuple[int, float, float, float]]  # dynos, rps, low, high
    ideal: list[tuple[float, float]]  # dynos, rps: linear from the smallest measured count
    fit: list[tuple[float, float, float, float]] = field(default_factory=list)  # dynos, rps, low, high
    peak_dynos: float | None = None
    efficiency: list[tuple[int, float, float, float]] = field(default_factory=list)  # dynos, eff, lo, hi


def capacity_chart(curves: Sequence[Curve], required_rps: float | None) -> str:
    """Breaking-point throughput against dynos, per size, with the linear ideal and the USL fit."""
    label = "Capacity vs dynos"
    if not any(c.points for c in curves):
        return _empty("capacity", label, "No formation had a measured breaking point.")
    with _figure("capacity", 3.4) as (figure, axes):
        for i, curve in enumerate(curves):
            color = _SIZE_COLORS[i % len(_SIZE_COLORS)]
            if curve.fit:
                n = [f[0] for f in curve.fit]
                axes.fill_between(
                    n, [f[2] for f in curve.fit], [f[3] for f in curve.fit], color=color, alpha=0.15, lw=0
                )
                axes.plot(n, [f[1] for f in curve.fit], color=color, lw=1.6, label=f"{curve.size}: USL fit")
            if curve.ideal:
                axes.plot(
                    [p[0] for p in curve.ideal],
                    [p[1] for p in curve.ideal],
                    color=color,
                    lw=1.0,
                    ls=":",
                    label=f"{curve.size}: linear ideal",
                )
            x = [p[0] for p in curve.points]
            y = [p[1] for p in curve.points]
            errors = [[p[1] - p[2] for p in curve.points], [p[3] - p[1] for p in curve.points]]
            axes.errorbar(
                x, y, yerr=errors, fmt="o", color=color, ms=5, capsize=3, label=f"{curve.size}: measured"
            )
            if curve.peak_dynos is not None and curve.fit and curve.peak_dynos <= curve.fit[-1][0]:
                axes.axvline(curve.peak_dynos, color=color, lw=0.8, ls="--")
                axes.annotate(
                    f"N* ≈ {curve.peak_dynos:.1f}",
                    (curve.peak_dynos, 0),
                    xycoords=("data", "axes fraction"),
                    xytext=(3, 4),
                    textcoords="offset points",
                    fontsize=8,
                    color=color,
                )
        if required_rps is not None:
            axes.axhline(required_rps, color="#b42318", lw=1.0, ls="--", label="peak × headroom")
        axes.set_xlabel("dynos")
        axes.set_ylabel("breaking point (req/s)")
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        axes.legend(loc="upper left", ncols=2)
        return _svg(figure, label)


def efficiency_chart(curves: Sequence[Curve]) -> str:
    """Scaling efficiency X(n) / (n · X(1)) per measured formation; 100 % is linear."""
    label = "Scaling efficiency"
    if not any(c.efficiency for c in curves):
        return _empty("efficiency", label, "No two formations of one size had a measured breaking point.")
    with _figure("efficiency", 2.6) as (figure, axes):
        top = 1.1
        for i, curve in enumerate(curves):
            color = _SIZE_COLORS[i % len(_SIZE_COLORS)]
            x = [e[0] for e in curve.efficiency]
            y = [e[1] for e in curve.efficiency]
            errors = [[e[1] - e[2] for e in curve.efficiency], [e[3] - e[1] for e in curve.efficiency]]
            axes.errorbar(x, y, yerr=errors, fmt="o-", color=color, ms=5, capsize=3, lw=1.0, label=curve.size)
            top = max(top, *(e[3] for e in curve.efficiency if e[3] != float("inf")))
        axes.axhline(1.0, color="#59636e", lw=0.8, ls=":", label="linear (100 %)")
        axes.set_xlabel("dynos")
        axes.set_ylabel("efficiency")
        axes.set_ylim(0, min(top * 1.05, 2.0))
        axes.set_xlim(left=0)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
        axes.legend(loc="lower left", ncols=3)
        return _svg(figure, label)
