"""The trend page of `harness history --html`: breaking point and p95 by release, flagged releases marked."""

from __future__ import annotations

from datetime import UTC, datetime

from harness import __version__
from harness.comparison.trend import ReleasePoint
from harness.report.charts import _empty, _figure, _svg
from harness.report.html import _environment

__all__ = ["render_trend_html", "trend_chart"]


def trend_chart(points: list[ReleasePoint], attribute: str, label: str) -> str:
    """One line over releases (in the order they were tested), flagged releases in red."""
    name = f"trend-{attribute}"
    shown = [(p, getattr(p, attribute)) for p in points if getattr(p, attribute) is not None]
    if not shown:
        return _empty(name, label, "no release measured this")
    with _figure(name, 2.6) as (figure, axes):
        x = list(range(len(shown)))
        axes.plot(x, [v for _, v in shown], color="#4c78a8", marker="o", linewidth=1.4)
        flagged = [(i, v) for i, (p, v) in enumerate(shown) if any(label.split()[0] in f for f in p.flags)]
        if flagged:
            axes.scatter([i for i, _ in flagged], [v for _, v in flagged], color="#e45756", s=60, zorder=4)
        axes.set_xticks(x, [f"v{p.release}" for p, _ in shown])
        axes.set_ylabel(label)
        return _svg(figure, f"{label} by release")


def render_trend_html(app: str | None, points: list[ReleasePoint]) -> str:
    """The trend as one self-contained HTML page."""
    unit = next((p.breaking_point_unit for p in points if p.breaking_point_unit), "req/s")
    charts = [
        ("Breaking point by release", trend_chart(points, "breaking_point", f"breaking point ({unit})")),
        ("p95 at the expected load by release", trend_chart(points, "p95_ms", "p95 (ms)")),
    ]
    template = _environment().get_template("trend.html.j2")
    return template.render(
        app=app, points=points, charts=charts, generated=datetime.now(UTC), renderer_version=__version__
    )
