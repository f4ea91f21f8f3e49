"""The files of a run directory: their names and columns, atomic writes, rows in and DataFrames out.

Every write replaces a whole file by rename or appends whole fsynced lines,
so a run killed at any moment leaves a readable directory. Units follow
measurements.py: `_s` seconds, `_ms` milliseconds, `_rps` requests per
second, `_ts` Unix epoch seconds.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from harness.measurements import EndpointWindow, ScenarioResult, StepWindow

__all__ = [
    "CSV_FILES",
    "ENDPOINTS_CSV",
    "ENDPOINT_COLUMNS",
    "ERRORS_CSV",
    "ERROR_COLUMNS",
    "EVENTS",
    "RUN_JSON",
    "STEPS_CSV",
    "STEP_COLUMNS",
    "TIMESERIES_COLUMNS",
    "TIMESERIES_CSV",
    "append_csv",
    "endpoint_rows",
    "error_rows",
    "read_csv",
    "step_rows",
    "timeseries_rows",
    "write_atomically",
]

RUN_JSON = "run.json"
EVENTS = "events.jsonl"
TIMESERIES_CSV = "timeseries.csv"
STEPS_CSV = "steps.csv"
ENDPOINTS_CSV = "endpoints.csv"
ERRORS_CSV = "errors.csv"

_LATENCY = ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms", "avg_ms"]

TIMESERIES_COLUMNS = [
    "ts",  # start of the second, epoch s
    "scenario",
    "step",  # step index, empty between steps
    "kind",  # the step's StepKind
    "method",
    "name",  # endpoint name, or 'Aggregated' for all endpoints
    "users",  # Locust users running
    "offered_rps",  # arrival rate asked for (arrival-rate mode), else empty
    "rps",  # completed requests in this second
    "failures_per_s",
    "p50_ms",
    "p95_ms",
    "p99_ms",
]

# Arrival-rate mode: latency from each request's intended start slot (what SLOs judge by default).
_INTENDED = ["intended_p50_ms", "intended_p95_ms", "intended_p99_ms"]
_WINDOW = ["requests", "failures", "rps", "failures_per_s", "error_ratio", *_LATENCY, *_INTENDED]

STEP_COLUMNS = [
    "scenario",
    "index",
    "kind",
    "label",
    "mode",  # 'users' or 'arrival_rate'
    "level",  # users, or req/s in arrival-rate mode
    "ramp_s",
    "hold_s",
    "start_ts",  # measured window (ramp excluded)
    "end_ts",
    "duration_s",
    "users",
    "offered_rps",
    *_WINDOW,  # the all-endpoints total of the window
    "generator_cpu_percent",
    "generator_saturated",
    "aborted",
    "ok",  # the step met the SLOs (and kept up with the offered load)
    "broken_by",  # the criterion that failed first
    "note",
]

ENDPOINT_COLUMNS = ["scenario", "window", "step", "method", "name", *_WINDOW]  # window: 'step' | 'judged'

ERROR_COLUMNS = ["scenario", "step", "method", "name", "kind", "status", "count", "example"]

_INT_COLUMNS = {"step": "Int64", "index": "Int64", "status": "Int64", "users": "Int64"}

_TEXT_COLUMNS = {
    "scenario",
    "kind",
    "label",
    "mode",
    "method",
    "name",
    "window",
    "broken_by",
    "note",
    "example",
}

CSV_FILES = {
    TIMESERIES_CSV: TIMESERIES_COLUMNS,
    STEPS_CSV: STEP_COLUMNS,
    ENDPOINTS_CSV: ENDPOINT_COLUMNS,
    ERRORS_CSV: ERROR_COLUMNS,
}


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a reader only ever sees the old or the new content."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def append_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Append rows to a CSV by rewriting it atomically (no half-written row is ever visible)."""
    if not rows:
        return
    import pandas as pd  # here, not at import: a load-only process (`harness load`, a worker) skips it

    buffer = io.StringIO()
    pd.DataFrame(rows, columns=columns).to_csv(buffer, index=False, header=False, lineterminator="\n")
    old = path.read_bytes() if path.exists() else (",".join(columns) + "\n").encode()
    write_atomically(path, old + buffer.getvalue().encode())


def read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    """A CSV as a DataFrame with its documented columns (empty when the file is missing)."""
    import pandas as pd

    dtypes: dict[str, Any] = {c: _INT_COLUMNS[c] for c in columns if c in _INT_COLUMNS}
    dtypes.update({c: "string" for c in columns if c in _TEXT_COLUMNS})
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "float64")) for c in columns})
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    return frame.reindex(columns=columns)


def _window_values(window: EndpointWindow) -> dict[str, Any]:
    latency = window.latency.model_dump()
    intended = window.intended_latency.model_dump() if window.intended_latency is not None else None
    return {
        "requests": window.requests,
        "failures": window.failures,
        "rps": window.rps,
        "failures_per_s": window.failures_per_s,
        "error_ratio": window.error_ratio,
        **{name: latency[name] for name in _LATENCY},
        **{name: (intended or {}).get(name.removeprefix("intended_")) for name in _INTENDED},
    }


def timeseries_rows(result: ScenarioResult) -> list[dict[str, Any]]:
    return [
        {**point.model_dump(mode="json"), "scenario": point.scenario or result.name}
        for point in result.timeseries
    ]


def step_rows(result: ScenarioResult) -> list[dict[str, Any]]:
    rows = []
    for record in result.steps:
        window, plan = record.window, record.window.plan
        rows.append(
            {
                "scenario": result.name,
                "index": plan.index,
                "kind": plan.kind.value,
                "label": plan.label,
                "mode": plan.mode.value,
                "level": plan.level,
                "ramp_s": plan.ramp_s,
                "hold_s": plan.hold_s,
                "start_ts": window.start_ts,
                "end_ts": window.end_ts,
                "duration_s": window.duration_s,
                "users": window.users,
                "offered_rps": window.offered_rps,
                **_window_values(window.total),
                "generator_cpu_percent": window.generator_cpu_percent,
                "generator_saturated": window.generator_saturated,
                "aborted": window.aborted,
                "ok": record.ok,
                "broken_by": record.broken_by,
                "note": record.note,
            }
        )
    return rows


def _window_endpoint_rows(
    scenario: str, kind: str, step: int | None, window: StepWindow
) -> Iterable[dict[str, Any]]:
    for endpoint in [*window.endpoints, window.total]:
        yield {
            "scenario": scenario,
            "window": kind,
            "step": step,
            "method": endpoint.method,
            "name": endpoint.name,
            **_window_values(endpoint),
        }


def endpoint_rows(result: ScenarioResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record in result.steps:
        rows.extend(_window_endpoint_rows(result.name, "step", record.window.plan.index, record.window))
    if result.judged is not None:
        rows.extend(_window_endpoint_rows(result.name, "judged", None, result.judged))
    return rows


def error_rows(result: ScenarioResult) -> list[dict[str, Any]]:
    rows = [
        {"scenario": result.name, "step": record.window.plan.index, **error.model_dump()}
        for record in result.steps
        for error in record.window.errors
    ]
    rows += [{"scenario": result.name, "step": None, **error.model_dump()} for error in result.errors]
    return rows
