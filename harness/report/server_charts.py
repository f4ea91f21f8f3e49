"""The server-side charts: router timing against the client's, requests per dyno, H codes, memory, load.

Same conventions as `charts.py` (matplotlib Agg → inline SVG, no pyplot
state). They take a `ServerView` (server_view.json) and the run's start time;
dyno events (crashes, restarts, R14/R15) are drawn as marked vertical lines on
the time charts, measured steps as grey bands.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.report.charts import _empty, _figure, _svg, _time_axis
from harness.serverview import ServerEvent, ServerView, StepServer

__all__ = ["codes_chart", "dyno_requests_chart", "load_chart", "memory_chart", "step_timing_chart"]

_DYNO_COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#72b7b2", "#eeca3b", "#bab0ac"]
_CODE_COLORS = ["#e45756", "#f58518", "#b279a2", "#9d755d", "#eeca3b", "#4c78a8", "#bab0ac"]
_EVENT_STYLE = {
    "crash": ("#e45756", "-"),
    "R15": ("#e45756", "--"),
    "R14": ("#f58518", "--"),
    "restart": ("#54a24b", ":"),
    "R10": ("#b279a2", "--"),
    "R12": ("#b279a2", ":"),
    "L10": ("#888888", ":"),
}


def _ordered(view: ServerView) -> list[StepServer]:
    return sorted(view.steps, key=lambda s: s.start_ts)


def _step_labels(steps: Sequence[StepServer], sep: str) -> list[str]:
    return [
        f"{s.label or s.step}{sep}{s.level:.4g} {s.level_unit}".rstrip()
        if s.level is not None
        else s.label or str(s.step)
        for s in steps
    ]


def _step_axis(axes: Axes, steps: Sequence[StepServer]) -> None:
    """Step labels under the bars: two lines when few, rotated one-liners (with room kept) when many."""
    few = len(steps) <= 8
    labels = _step_labels(steps, "\n" if few else " · ")
    axes.set_xticks(
        range(len(steps)), labels, fontsize=7, rotation=0 if few else 35, ha="center" if few else "right"
    )
    axes.set_xlim(-0.6, len(steps) - 0.4)
    figure = axes.get_figure(root=True)
    if not few and isinstance(figure, Figure):
        longest = max(len(label) for label in labels)
        figure.subplots_adjust(bottom=min(0.45, (0.2 + 0.036 * longest) / figure.get_figheight()))


def step_timing_chart(view: ServerView) -> str:
    """Per step: client p50/p95 against the router's service p50/p95 and the time outside the dyno."""
    label = "Router service time against client latency"
    steps = [s for s in _ordered(view) if s.router_requests]
    if not steps:
        return _empty("server-timing", label, "No router lines fell inside a measured step")
    x = list(range(len(steps)))

    def series(values: list[float | None]) -> list[float]:
        return [float("nan") if v is None else v for v in values]

    with _figure("server-timing", 3.2) as (figure, axes):
        axes.plot(
            x, series([s.client_p50_ms for s in steps]), "o-", color="#4c78a8", lw=1.2, label="client p50"
        )
        axes.plot(
            x, series([s.client_p95_ms for s in steps]), "o--", color="#4c78a8", lw=0.9, label="client p95"
        )
        axes.plot(
            x,
            series([s.service_p50_ms for s in steps]),
            "s-",
            color="#f58518",
            lw=1.2,
            label="router service p50",
        )
        axes.plot(
            x, series([s.service_p95_ms for s in steps]), "s--", color="#f58518", lw=0.9, label="service p95"
        )
        axes.plot(
            x,
            series([s.queue_p50_ms for s in steps]),
            "^-",
            color="#54a24b",
            lw=1.2,
            label="outside the dyno p50",
        )
        _step_axis(axes, steps)
        axes.set_ylabel("ms")
        axes.set_ylim(0, axes.get_ylim()[1] * 1.3)  # room for the legend
        axes.legend(loc="upper left", ncols=3)
        return _svg(figure, label)


def dyno_requests_chart(view: ServerView) -> str:
    """Per step: requests each dyno served, stacked (an even split means the router balanced the load)."""
    label = "Requests per dyno"
    steps = [s for s in _ordered(view) if s.per_dyno]
    if not steps:
        return _empty("server-dynos", label, "No request reached a dyno inside a measured step")
    dynos = sorted({d for s in steps for d in s.per_dyno}, key=_dyno_order)
    with _figure("server-dynos", 3.0) as (figure, axes):
        bottom = [0.0] * len(steps)
        for i, dyno in enumerate(dynos):
            counts = [float(s.per_dyno.get(dyno, 0)) for s in steps]
            axes.bar(
                range(len(steps)),
                counts,
                bottom=bottom,
                color=_DYNO_COLORS[i % len(_DYNO_COLORS)],
                label=dyno,
            )
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        _step_axis(axes, steps)
        axes.set_ylim(0, max(bottom) * 1.25)  # room for the legend above the bars
        axes.set_ylabel("requests served")
        axes.legend(loc="upper left", ncols=min(6, len(dynos)))
        return _svg(figure, label)


def codes_chart(view: ServerView) -> str:
    """Per step: router errors by H code."""
    label = "Router errors (H codes) per step"
    steps = _ordered(view)
    codes = sorted({c for s in steps for c in s.codes})
    if not codes:
        return _empty("server-codes", label, "The router logged no H-code errors inside a measured step")
    with _figure("server-codes", 2.8) as (figure, axes):
        bottom = [0.0] * len(steps)
        for i, code in enumerate(codes):
            counts = [float(s.codes.get(code, 0)) for s in steps]
            axes.bar(
                range(len(steps)),
                counts,
                bottom=bottom,
                color=_CODE_COLORS[i % len(_CODE_COLORS)],
                label=code,
            )
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        _step_axis(axes, steps)
        axes.set_ylim(0, max(bottom) * 1.25)
        axes.set_ylabel("errors")
        axes.legend(loc="upper left", ncols=len(codes))
        return _svg(figure, label)


def memory_chart(view: ServerView, t0: float) -> str:
    """Memory (RSS) per dyno over time, the quota as a line, dyno events marked."""
    label = "Memory per dyno"
    if not view.memory:
        return _empty("server-memory", label, "No memory samples (runtime metrics are off)")
    dynos = sorted({p.dyno for p in view.memory}, key=_dyno_order)
    quota = max((p.quota_mb for p in view.memory if p.quota_mb), default=None)
    with _figure("server-memory", 3.0) as (figure, axes):
        _bands(axes, view, t0)
        for i, dyno in enumerate(dynos):
            points = [p for p in view.memory if p.dyno == dyno]
            axes.plot(
                [p.ts - t0 for p in points],
                [p.rss_mb for p in points],
                color=_DYNO_COLORS[i % len(_DYNO_COLORS)],
                lw=1.1,
                marker=".",
                ms=3,
                label=dyno,
            )
        if quota:
            axes.axhline(quota, color="#e45756", lw=1, ls="--", label=f"quota {quota:.0f} MB")
        _mark(axes, view.events, t0)
        _time_axis(axes)
        axes.set_ylabel("MB (RSS)")
        axes.set_ylim(bottom=0)
        axes.legend(loc="upper left", ncols=min(6, len(dynos) + 1))
        return _svg(figure, label)


def load_chart(view: ServerView, t0: float) -> str:
    """1-minute load average per dyno over time, with what the dyno size carries, dyno events marked."""
    label = "Load average per dyno"
    if not view.load:
        return _empty("server-load", label, "No load samples (runtime metrics are off)")
    dynos = sorted({p.dyno for p in view.load}, key=_dyno_order)
    with _figure("server-load", 3.0) as (figure, axes):
        _bands(axes, view, t0)
        for i, dyno in enumerate(dynos):
            points = [p for p in view.load if p.dyno == dyno]
            axes.plot(
                [p.ts - t0 for p in points],
                [p.load_avg_1m for p in points],
                color=_DYNO_COLORS[i % len(_DYNO_COLORS)],
                lw=1.1,
                marker=".",
                ms=3,
                label=dyno,
            )
        if view.load_limit:
            axes.axhline(view.load_limit, color="#e45756", lw=1, ls="--", label=f"limit {view.load_limit:g}")
        _mark(axes, view.events, t0)
        _time_axis(axes)
        axes.set_ylabel("load_avg_1m")
        axes.set_ylim(bottom=0)
        axes.legend(loc="upper left", ncols=min(6, len(dynos) + 1))
        return _svg(figure, label)


def _bands(axes: Axes, view: ServerView, t0: float) -> None:
    for s in view.steps:
        color = "#e45756" if s.ok is False else "#888888"
        axes.axvspan(s.start_ts - t0, s.end_ts - t0, color=color, alpha=0.07, lw=0)


def _mark(axes: Axes, events: Sequence[ServerEvent], t0: float) -> None:
    """A vertical line per dyno event, labelled once per kind and dyno."""
    labelled: set[tuple[str, str]] = set()
    for e in events:
        color, style = _EVENT_STYLE.get(e.kind, ("#888888", ":"))
        axes.axvline(e.ts - t0, color=color, ls=style, lw=1)
        if (e.kind, e.dyno) not in labelled:
            labelled.add((e.kind, e.dyno))
            axes.annotate(
                f"{e.kind} {e.dyno}",
                (e.ts - t0, 1.0),
                xycoords=("data", "axes fraction"),
                textcoords="offset points",
                xytext=(2, -10 - 9 * (len(labelled) % 3)),
                color=color,
                fontsize=7,
            )


def _dyno_order(name: str) -> tuple[str, int]:
    kind, _, number = name.partition(".")
    return (kind, int(number) if number.isdigit() else 0)
