"""Run directories: one per run, written incrementally and atomically, read back with pandas.

    reports/20261129T121500Z-harness-demo-v52/
        run.json        the index (schema in model.py), rewritten atomically (tmp + fsync + rename)
        events.jsonl    one JSON object per line: {"ts": epoch s, "event": name, ...fields}; append + fsync
        timeseries.csv  TIMESERIES_COLUMNS: one row per second per endpoint (and the 'Aggregated' total)
        steps.csv       STEP_COLUMNS: one row per measured step (its total) with the search's decision
        endpoints.csv   ENDPOINT_COLUMNS: per-endpoint (and total) stats of every step and judged window
        errors.csv      ERROR_COLUMNS: failures by endpoint and kind, per step and per scenario (step empty)

Every file exists from `create()` on (CSVs with their header), and every
write replaces a whole file by rename or appends whole fsynced lines, so a
run killed at any moment leaves a readable directory. A reader sees such a
run (status 'running' but its writer process gone) as 'incomplete'.
Units follow measurements.py: `_s` seconds, `_ms` milliseconds, `_rps`
requests per second, `_ts` Unix epoch seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import re
import socket
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import psutil
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import to_jsonable_python

from harness import __version__
from harness.errors import ResultsError
from harness.measurements import BreakingPoint, EndpointWindow, ScenarioResult, StepWindow
from harness.results.model import (
    RunMeta,
    RunRecord,
    RunStatus,
    ScenarioEntry,
    Versions,
    WriterInfo,
    judge_run,
    redact,
    upgrade,
)

__all__ = [
    "DEFAULT_REPORTS_DIR",
    "ENDPOINT_COLUMNS",
    "ERROR_COLUMNS",
    "STEP_COLUMNS",
    "TIMESERIES_COLUMNS",
    "RunDir",
    "RunStore",
    "RunSummary",
    "RunWriter",
    "write_atomically",
]

DEFAULT_REPORTS_DIR = Path("reports")
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
_WINDOW = ["requests", "failures", "rps", "failures_per_s", "error_ratio", *_LATENCY]
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


class RunSummary(BaseModel):
    """One line of `harness history`: what a stakeholder compares across releases."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    path: str
    app: str
    release: int | None
    started_at: datetime
    status: RunStatus
    verdict: str  # 'pass' | 'fail' | 'incomplete' | 'failed' | 'running'
    breaking_point: float | None  # sustainable req/s at the breaking point, else its level
    breaking_point_unit: str | None  # 'req/s' or 'users'
    p95_at_expected_ms: float | None
    headroom: float | None

    @classmethod
    def of(cls, run: RunDir) -> RunSummary:
        """Summarise a run from its run.json (the CSVs are not read)."""
        record = run.record
        point = record.breaking_point
        value, unit = _breaking_value(point)
        return cls(
            run_id=record.run_id,
            path=str(run.path),
            app=record.app,
            release=record.release.version,
            started_at=record.started_at,
            status=record.status,
            verdict=_verdict_word(record),
            breaking_point=value,
            breaking_point_unit=unit,
            p95_at_expected_ms=record.p95_at_expected_ms(),
            headroom=(record.verdict.headroom if record.verdict else record.headroom()),
        )


class RunStore:
    """The directory holding one subdirectory per run (default `reports/`)."""

    def __init__(self, reports_dir: str | Path = DEFAULT_REPORTS_DIR) -> None:
        self.reports_dir = Path(reports_dir)

    def create(self, app: str, meta: RunMeta | None = None, *, now: datetime | None = None) -> RunWriter:
        """Start a run: a new directory with run.json (status 'running'), empty CSVs and events."""
        meta = meta or RunMeta()
        started = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        path = self._new_dir(_run_name(started, app, meta.release.version))
        record = RunRecord(
            **meta.model_dump(exclude={"versions"}),
            versions=_fill_versions(meta.versions),
            run_id=path.name,
            app=app,
            started_at=started,
            writer=_this_writer(),
        )
        return RunWriter._start(path, record)

    def run_dirs(self) -> list[Path]:
        """Every directory under the reports dir that holds a run.json, by name."""
        if not self.reports_dir.is_dir():
            return []
        return sorted(p for p in self.reports_dir.iterdir() if (p / RUN_JSON).is_file())

    def open(self, run: str | Path) -> RunDir:
        """A run by directory path or by run id (a directory name under the reports dir)."""
        path = Path(run)
        if not (path / RUN_JSON).exists() and (self.reports_dir / path).is_dir():
            path = self.reports_dir / path
        return RunDir.open(path)

    def history(self, app: str | None = None) -> list[RunSummary]:
        """Summaries of the runs (of `app`), newest first; unreadable directories are skipped."""
        summaries: list[RunSummary] = []
        for path in self.run_dirs():
            try:
                run = RunDir.open(path)
            except ResultsError:
                continue
            if app is None or run.record.app == app:
                summaries.append(RunSummary.of(run))
        return sorted(summaries, key=lambda s: (s.started_at, s.run_id), reverse=True)

    def _new_dir(self, name: str) -> Path:
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 1000):
            path = self.reports_dir / (name if attempt == 1 else f"{name}-{attempt}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path
        raise ResultsError(f"could not create a run directory named {name} under {self.reports_dir}.")


class RunWriter:
    """Writes one run directory as the run goes; use as a context manager to finish it on errors."""

    def __init__(self, path: Path, record: RunRecord) -> None:
        self.path = path
        self.record = record
        self._finished = False

    @classmethod
    def _start(cls, path: Path, record: RunRecord) -> RunWriter:
        writer = cls(path, record)
        for name, columns in _CSV_FILES.items():
            write_atomically(path / name, (",".join(columns) + "\n").encode())
        (path / EVENTS).touch()
        writer._save()
        writer.event("run_started", app=record.app, release=record.release.version)
        return writer

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._finished:
            return
        if exc is None:
            self.finish(RunStatus.COMPLETE)
        elif isinstance(exc, KeyboardInterrupt):
            self.finish(RunStatus.INCOMPLETE, failure="interrupted (Ctrl-C)")
        else:
            self.finish(RunStatus.FAILED, failure=f"{type(exc).__name__}: {exc}")

    def event(self, name: str, **fields: Any) -> None:
        """Append one event line (scale requested, step started, abort, restore...) and fsync it."""
        line = {"ts": time.time(), "event": name, **redact(to_jsonable_python(fields))}
        with open(self.path / EVENTS, "ab") as f:
            f.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())

    def update(self, **fields: Any) -> RunRecord:
        """Set run.json fields (release=..., formation_tested=..., scale_up=...) and rewrite it atomically."""
        protected = {"schema_version", "run_id", "status", "writer", "scenarios"} & fields.keys()
        if protected:
            raise TypeError(f"update() cannot set {sorted(protected)}; use add_scenario() or finish()")
        self.record = _revalidate(self.record, fields)
        self._save()
        return self.record

    def add_scenario(
        self, result: ScenarioResult, config: BaseModel | Mapping[str, Any] | None = None
    ) -> None:
        """Write a finished scenario: its rows to the CSVs, then its entry (with `config`) to run.json."""
        _append_csv(self.path / TIMESERIES_CSV, TIMESERIES_COLUMNS, _timeseries_rows(result))
        _append_csv(self.path / STEPS_CSV, STEP_COLUMNS, _step_rows(result))
        _append_csv(self.path / ENDPOINTS_CSV, ENDPOINT_COLUMNS, _endpoint_rows(result))
        _append_csv(self.path / ERRORS_CSV, ERROR_COLUMNS, _error_rows(result))
        entry = _scenario_entry(result, config)
        scenarios = [s for s in self.record.scenarios if s.name != result.name] + [entry]
        update: dict[str, Any] = {"scenarios": scenarios}
        if result.breaking_point is not None and self.record.breaking_point is None:
            update["breaking_point"] = result.breaking_point
        self.record = _revalidate(self.record, update)
        self._save()
        self.event("scenario_recorded", scenario=result.name, status=result.status, steps=len(result.steps))

    def finish(
        self,
        status: RunStatus | str = RunStatus.COMPLETE,
        *,
        breaking_point: BreakingPoint | None = None,
        failure: str | None = None,
        **fields: Any,
    ) -> RunRecord:
        """End the run: final status, end time, the overall verdict; the directory is then read-only."""
        update: dict[str, Any] = {**fields, "status": RunStatus(status), "ended_at": datetime.now(UTC)}
        if breaking_point is not None:
            update["breaking_point"] = breaking_point
        if failure is not None:
            update["failure"] = failure
        record = _revalidate(self.record, update)
        verdict = judge_run(record)
        self.record = _revalidate(record, {"verdict": verdict})
        self._save()
        self.event("run_finished", status=self.record.status.value, passed=verdict.passed)
        self._finished = True
        return self.record

    def _save(self) -> None:
        write_atomically(self.path / RUN_JSON, self.record.model_dump_json(indent=2).encode())


class RunDir:
    """A run directory read back: `record` (run.json, upgraded) and the CSVs as DataFrames."""

    def __init__(self, path: Path, record: RunRecord) -> None:
        self.path = path
        self.record = record

    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """Read run.json (upgrading old schema versions); a run whose writer died reads as incomplete."""
        path = Path(path)
        try:
            text = (path / RUN_JSON).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ResultsError(
                f"{path} is not a run directory (no {RUN_JSON}). `harness history` lists the runs "
                "under reports/."
            ) from None
        try:
            record = RunRecord.model_validate(upgrade(json.loads(text)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ResultsError(f"{path / RUN_JSON} cannot be read: {_first_line(exc)}.") from None
        return cls(path, _effective_status(record))

    @property
    def interrupted(self) -> bool:
        """The run did not end normally (killed, Ctrl-C, or still being written)."""
        return self.record.status in {RunStatus.INCOMPLETE, RunStatus.RUNNING}

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """timeseries.csv (TIMESERIES_COLUMNS)."""
        return _read_csv(self.path / TIMESERIES_CSV, TIMESERIES_COLUMNS)

    @cached_property
    def steps(self) -> pd.DataFrame:
        """steps.csv (STEP_COLUMNS)."""
        return _read_csv(self.path / STEPS_CSV, STEP_COLUMNS)

    @cached_property
    def endpoints(self) -> pd.DataFrame:
        """endpoints.csv (ENDPOINT_COLUMNS)."""
        return _read_csv(self.path / ENDPOINTS_CSV, ENDPOINT_COLUMNS)

    @cached_property
    def errors(self) -> pd.DataFrame:
        """errors.csv (ERROR_COLUMNS)."""
        return _read_csv(self.path / ERRORS_CSV, ERROR_COLUMNS)

    @cached_property
    def events(self) -> list[dict[str, Any]]:
        """events.jsonl; a line cut short by a kill is skipped."""
        events: list[dict[str, Any]] = []
        with contextlib.suppress(FileNotFoundError), open(self.path / EVENTS, encoding="utf-8") as f:
            for line in f:
                with contextlib.suppress(json.JSONDecodeError):
                    events.append(json.loads(line))
        return events


_CSV_FILES = {
    TIMESERIES_CSV: TIMESERIES_COLUMNS,
    STEPS_CSV: STEP_COLUMNS,
    ENDPOINTS_CSV: ENDPOINT_COLUMNS,
    ERRORS_CSV: ERROR_COLUMNS,
}


def _run_name(started: datetime, app: str, release: int | None) -> str:
    """'20261129T121500Z-harness-demo-v52' (no '-vN' when the release is unknown)."""
    safe_app = re.sub(r"[^A-Za-z0-9_.-]+", "-", app).strip("-.") or "app"
    suffix = f"-v{release}" if release is not None else ""
    return f"{started:%Y%m%dT%H%M%SZ}-{safe_app}{suffix}"


def _fill_versions(given: Versions) -> Versions:
    """Versions of this process for whatever the caller left empty (Locust is not imported)."""
    try:
        locust_version = metadata.version("locust")
    except metadata.PackageNotFoundError:
        locust_version = ""
    return Versions(
        harness=given.harness or __version__,
        locust=given.locust or locust_version,
        python=given.python or platform.python_version(),
    )


def _this_writer() -> WriterInfo:
    return WriterInfo(
        pid=os.getpid(), pid_started_ts=psutil.Process().create_time(), hostname=socket.gethostname()
    )


def _writer_alive(writer: WriterInfo | None) -> bool:
    """Whether the process that wrote the run is still running (same host, same pid, same start)."""
    if writer is None or writer.hostname != socket.gethostname():
        return False
    try:
        started = psutil.Process(writer.pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return writer.pid_started_ts is None or abs(started - writer.pid_started_ts) < 1.0


def _effective_status(record: RunRecord) -> RunRecord:
    if record.status != RunStatus.RUNNING or _writer_alive(record.writer):
        return record
    pid = record.writer.pid if record.writer else "?"
    failure = record.failure or f"the harness process (pid {pid}) stopped before finishing the run"
    return record.model_copy(update={"status": RunStatus.INCOMPLETE, "failure": failure})


def _revalidate(record: RunRecord, fields: Mapping[str, Any]) -> RunRecord:
    """A new record with `fields` applied and validated (dicts or models both accepted)."""
    data = record.model_dump()
    data.update(fields)
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        raise TypeError(f"invalid run.json fields: {exc}") from exc


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


def _append_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Append rows to a CSV by rewriting it atomically (no half-written row is ever visible)."""
    if not rows:
        return
    buffer = io.StringIO()
    pd.DataFrame(rows, columns=columns).to_csv(buffer, index=False, header=False, lineterminator="\n")
    old = path.read_bytes() if path.exists() else (",".join(columns) + "\n").encode()
    write_atomically(path, old + buffer.getvalue().encode())


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    """A CSV as a DataFrame with its documented columns (empty when the file is missing)."""
    dtypes: dict[str, Any] = {c: _INT_COLUMNS[c] for c in columns if c in _INT_COLUMNS}
    dtypes.update({c: "string" for c in columns if c in _TEXT_COLUMNS})
    if not path.exists():
        return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "float64")) for c in columns})
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    return frame.reindex(columns=columns)


def _window_values(window: EndpointWindow) -> dict[str, Any]:
    latency = window.latency.model_dump()
    return {
        "requests": window.requests,
        "failures": window.failures,
        "rps": window.rps,
        "failures_per_s": window.failures_per_s,
        "error_ratio": window.error_ratio,
        **{name: latency[name] for name in _LATENCY},
    }


def _timeseries_rows(result: ScenarioResult) -> list[dict[str, Any]]:
    return [
        {**point.model_dump(mode="json"), "scenario": point.scenario or result.name}
        for point in result.timeseries
    ]


def _step_rows(result: ScenarioResult) -> list[dict[str, Any]]:
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


def _endpoint_rows(result: ScenarioResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for record in result.steps:
        rows.extend(_window_endpoint_rows(result.name, "step", record.window.plan.index, record.window))
    if result.judged is not None:
        rows.extend(_window_endpoint_rows(result.name, "judged", None, result.judged))
    return rows


def _error_rows(result: ScenarioResult) -> list[dict[str, Any]]:
    rows = [
        {"scenario": result.name, "step": record.window.plan.index, **error.model_dump()}
        for record in result.steps
        for error in record.window.errors
    ]
    rows += [{"scenario": result.name, "step": None, **error.model_dump()} for error in result.errors]
    return rows


def _scenario_entry(result: ScenarioResult, config: BaseModel | Mapping[str, Any] | None) -> ScenarioEntry:
    if isinstance(config, BaseModel):
        config_data: Any = config.model_dump(mode="json")
    else:
        config_data = to_jsonable_python(dict(config or {}))
    return ScenarioEntry(
        name=result.name,
        kind=result.kind,
        mode=result.mode,
        status=result.status,
        config=redact(config_data),
        started_ts=result.started_ts,
        ended_ts=result.ended_ts,
        verdicts=result.verdicts,
        judged=result.judged,
        breaking_point=result.breaking_point,
        recovery=result.recovery,
        abort_reason=result.abort_reason,
        cpu_warnings=result.cpu_warnings,
        workers=result.workers,
        step_count=len(result.steps),
    )


def _breaking_value(point: BreakingPoint | None) -> tuple[float | None, str | None]:
    if point is None or point.status != "found":
        return None, None
    if point.sustainable_rps is not None:
        return point.sustainable_rps, "req/s"
    unit = "users" if point.mode.value == "users" else "req/s"
    return point.level, unit


def _verdict_word(record: RunRecord) -> str:
    if record.status == RunStatus.RUNNING:
        return "running"
    if record.status == RunStatus.INCOMPLETE:
        return "incomplete"
    if record.status == RunStatus.FAILED:
        return "failed"
    verdict = record.verdict or judge_run(record)
    return "pass" if verdict.passed else "fail"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
