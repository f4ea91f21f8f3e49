"""Writing one run directory as the run goes: run.json, the CSVs, events.jsonl.

The writer stores what it is given and decides nothing: the overall verdict
comes from the caller (`finish(judge=...)`, see `capacity/verdict.py`).
"""

from __future__ import annotations

import json
import os
import platform
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from harness import __version__
from harness.measurements import (
    BreakingPoint,
    RunVerdict,
    ScenarioKind,
    ScenarioResult,
    StepPlan,
    TimeseriesPoint,
)
from harness.results.files import (
    CSV_FILES,
    ENDPOINT_COLUMNS,
    ENDPOINTS_CSV,
    ERROR_COLUMNS,
    ERRORS_CSV,
    EVENTS,
    RUN_JSON,
    STEP_COLUMNS,
    STEPS_CSV,
    TIMESERIES_COLUMNS,
    TIMESERIES_CSV,
    append_csv,
    endpoint_rows,
    error_rows,
    step_rows,
    timeseries_rows,
    write_atomically,
)
from harness.results.model import (
    RunRecord,
    RunStatus,
    ScenarioEntry,
    StepInProgress,
    Versions,
    WriterInfo,
    redact,
)

__all__ = ["RunJudge", "RunWriter", "fill_versions", "this_writer"]

# Decides a finished run's overall verdict (capacity.verdict.judge_run); results never judges itself.
RunJudge = Callable[[RunRecord], RunVerdict]


class RunWriter:
    """Writes one run directory as the run goes; use as a context manager to finish it on errors."""

    def __init__(self, path: Path, record: RunRecord) -> None:
        self.path = path
        self.record = record
        self._finished = False
        self._timeseries_before: bytes | None = None  # timeseries.csv before the running scenario

    @classmethod
    def _start(cls, path: Path, record: RunRecord) -> RunWriter:
        writer = cls(path, record)
        for name, columns in CSV_FILES.items():
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
        self.record = revalidate(self.record, fields)
        self._save()
        return self.record

    def step_started(self, scenario: str, kind: ScenarioKind | str, plan: StepPlan) -> None:
        """Record (in run.json) the step a scenario has just started, so a killed run can say where it
        stopped ('search-stress: killed during probe 2')."""
        step = StepInProgress(
            scenario=scenario, kind=ScenarioKind(kind), step=plan.label or str(plan.kind), index=plan.index
        )
        self.record = revalidate(self.record, {"in_progress": step})
        self._save()

    def append_timeseries(self, points: Sequence[TimeseriesPoint]) -> None:
        """Seconds of the running scenario as they are measured (fsynced), so a killed run keeps them;
        `add_scenario` then replaces them with the scenario's final series."""
        path = self.path / TIMESERIES_CSV
        if self._timeseries_before is None:
            self._timeseries_before = path.read_bytes()
        append_csv(path, TIMESERIES_COLUMNS, [point.model_dump(mode="json") for point in points])

    def add_scenario(
        self, result: ScenarioResult, config: BaseModel | Mapping[str, Any] | None = None
    ) -> None:
        """Write a finished scenario: its rows to the CSVs, then its entry (with `config`) to run.json."""
        if self._timeseries_before is not None:  # drop the rows appended while it ran
            write_atomically(self.path / TIMESERIES_CSV, self._timeseries_before)
            self._timeseries_before = None
        append_csv(self.path / TIMESERIES_CSV, TIMESERIES_COLUMNS, timeseries_rows(result))
        append_csv(self.path / STEPS_CSV, STEP_COLUMNS, step_rows(result))
        append_csv(self.path / ENDPOINTS_CSV, ENDPOINT_COLUMNS, endpoint_rows(result))
        append_csv(self.path / ERRORS_CSV, ERROR_COLUMNS, error_rows(result))
        entry = scenario_entry(result, config)
        scenarios = [s for s in self.record.scenarios if s.name != result.name] + [entry]
        update: dict[str, Any] = {"scenarios": scenarios, "in_progress": None}
        if result.breaking_point is not None and self.record.breaking_point is None:
            update["breaking_point"] = result.breaking_point
        self.record = revalidate(self.record, update)
        self._save()
        self.event("scenario_recorded", scenario=result.name, status=result.status, steps=len(result.steps))

    def finish(
        self,
        status: RunStatus | str = RunStatus.COMPLETE,
        *,
        breaking_point: BreakingPoint | None = None,
        failure: str | None = None,
        judge: RunJudge | None = None,
        **fields: Any,
    ) -> RunRecord:
        """End the run: final status, end time and, when `judge` is given, the overall verdict."""
        update: dict[str, Any] = {**fields, "status": RunStatus(status), "ended_at": datetime.now(UTC)}
        if breaking_point is not None:
            update["breaking_point"] = breaking_point
        if failure is not None:
            update["failure"] = failure
        record = revalidate(self.record, update)
        if judge is not None:
            record = revalidate(record, {"verdict": judge(record)})
        self.record = record
        self._save()
        passed = record.verdict.passed if record.verdict is not None else None
        self.event("run_finished", status=record.status.value, passed=passed)
        self._finished = True
        return self.record

    def _save(self) -> None:
        write_atomically(self.path / RUN_JSON, self.record.model_dump_json(indent=2).encode())


def fill_versions(given: Versions) -> Versions:
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


def this_writer() -> WriterInfo:
    return WriterInfo(
        pid=os.getpid(), pid_started_ts=psutil.Process().create_time(), hostname=socket.gethostname()
    )


def revalidate(record: RunRecord, fields: Mapping[str, Any]) -> RunRecord:
    """A new record with `fields` applied and validated (dicts or models both accepted)."""
    data = record.model_dump()
    data.update(fields)
    try:
        return RunRecord.model_validate(data)
    except ValidationError as exc:
        raise TypeError(f"invalid run.json fields: {exc}") from exc


def scenario_entry(result: ScenarioResult, config: BaseModel | Mapping[str, Any] | None) -> ScenarioEntry:
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
        limits=result.limits,
        abort_for_s=result.abort_for_s,
        locustfile_sha256=result.locustfile_sha256,
        last_step=(result.steps[-1].window.plan.label or str(result.steps[-1].window.plan.kind))
        if result.steps
        else None,
    )
