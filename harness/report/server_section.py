"""The report's server-side section: the diagnosis, the charts and the tables of server_view.json.

Renders what the run directory holds and decides nothing: the figures and the
diagnosis were built at the end of the run (`capacity/diagnosis`). A run
without a log stream (older runs, or harness run with it off) has no section.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from harness.measurements import TOTAL
from harness.results.rundir import RunDir
from harness.results.server import read_server_view
from harness.serverview import QueueBasis, ServerView

__all__ = ["server_figures", "server_section"]


def server_section(run: RunDir) -> dict[str, Any] | None:
    """The template context of the section, or None when the run has no server-side view."""
    view = read_server_view(run.path)
    if view is None:
        return None
    t0 = _t0(run, view)
    return {
        "view": view,
        "diagnosis": view.diagnosis,
        "charts": _charts(view, t0),
        "steps": [_step_row(s, view) for s in sorted(view.steps, key=lambda s: s.start_ts)],
        "events": [{"when": datetime.fromtimestamp(e.ts, UTC), **e.model_dump()} for e in view.events],
        "matched_share": view.matched / view.router_requests if view.router_requests else None,
    }


def _t0(run: RunDir, view: ServerView) -> float:
    """The run's time zero: the first second of its time series, as the other time charts use."""
    series = run.timeseries
    total = series[series["name"] == TOTAL] if not series.empty else series
    if not total.empty:
        return float(total["ts"].min())
    starts = [s.start_ts for s in view.steps] + [p.ts for p in view.memory] + [p.ts for p in view.load]
    return min(starts, default=0.0)


def _charts(view: ServerView, t0: float) -> list[dict[str, str]]:
    from harness.report import server_charts  # matplotlib: only when a page is rendered

    return [
        {
            "title": "Router service time against client latency",
            "caption": "Per measured step: the client's p50/p95, the router's service time (spent in the "
            "dyno) and the time outside the dyno (router queueing plus network; per request where the "
            "X-Request-Id matched, else from the medians).",
            "svg": server_charts.step_timing_chart(view),
        },
        {
            "title": "Requests per dyno",
            "caption": "Requests each dyno served in each step: even bars mean the router spread the load.",
            "svg": server_charts.dyno_requests_chart(view),
        },
        {
            "title": "Router errors per step",
            "caption": "H codes the router logged (H11 backlog too deep, H12 timeout, H13/H18 connection "
            "closed, H10 app crashed, …).",
            "svg": server_charts.codes_chart(view),
        },
        {
            "title": "Memory per dyno",
            "caption": "RSS of each dyno from the runtime metrics, the memory quota dashed; crashes, "
            "restarts and R14/R15 are marked.",
            "svg": server_charts.memory_chart(view, t0),
        },
        {
            "title": "Load per dyno",
            "caption": "1-minute load average of each dyno; dashed: what its size carries without CPU "
            "contention. Crashes and restarts are marked.",
            "svg": server_charts.load_chart(view, t0),
        },
    ]


def _step_row(step: Any, view: ServerView) -> dict[str, Any]:
    row = step.model_dump()
    row["codes_text"] = ", ".join(f"{n} {c}" for c, n in step.codes.items())
    row["dynos_text"] = " / ".join(f"{n}" for n in step.per_dyno.values())
    row["basis"] = {QueueBasis.MATCHED: "per request", QueueBasis.PERCENTILES: "medians"}.get(
        step.queue_basis, ""
    )
    row["load"] = max(step.load_max.values(), default=None)
    row["memory"] = max(step.memory_max_mb.values(), default=None)
    return row


def server_figures(run: RunDir) -> dict[str, Any] | None:
    """The server side for summary.json: diagnosis, per-step router figures, H codes, dynos, stream."""
    view = read_server_view(run.path)
    if view is None:
        return None
    return {
        "diagnosis": view.diagnosis.model_dump(mode="json"),
        "router_requests": view.router_requests,
        "matched_requests": view.matched,
        "metrics_present": view.metrics_present,
        "metrics_hint": view.metrics_hint,
        "steps": [
            {
                k: v
                for k, v in s.model_dump(mode="json").items()
                if k
                in {
                    "scenario",
                    "step",
                    "label",
                    "level",
                    "router_requests",
                    "service_p50_ms",
                    "service_p95_ms",
                    "queue_p50_ms",
                    "queue_p95_ms",
                    "queue_basis",
                    "matched",
                    "codes",
                    "app_5xx",
                    "per_dyno",
                    "imbalance",
                    "client_p50_ms",
                    "client_p95_ms",
                }
            }
            for s in sorted(view.steps, key=lambda s: s.start_ts)
        ],
        "codes": [c.model_dump(mode="json") for c in view.codes],
        "dynos": [d.model_dump(mode="json") for d in view.dynos],
        "events": [e.model_dump(mode="json") for e in view.events],
        "stream": view.stream.model_dump(mode="json"),
    }
