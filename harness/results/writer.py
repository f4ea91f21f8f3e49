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
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from harness import __version__
from harness.measurements import BreakingPoint, RunVerdict, ScenarioResult
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
from harness.results.model import RunRecord, RunStatus, ScenarioEntry, Versions, WriterInfo, redact

__all__ = ["RunJudge", "RunWriter", "fill_versions", "this_writer"]

# Decides a finished run's overall verdict (capacity.verdict.judge_run); results never judges itself.
RunJudge = Callable[[RunRecord], RunVerdict]


class RunWriter:
    """Writes one run directory as the run goes; use as a context manager to finish it on errors."""

    def __init__(self, path: Path, record: RunRecord) -> None:
        self.path = path
        self.record = record
        self._finished = False

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

    def add_scenario(
        self, result: ScenarioResult, config: BaseModel | Mapping[str, Any] | None = None
    ) -> None:
        """Write a finished scenario: its rows to the CSVs, then its entry (with `config`) to run.json."""
        append_csv(self.path / TIMESERIES_CSV, TIMESERIES_COLUMNS, timeseries_rows(result))
        append_csv(self.path / STEPS_CSV, STEP_COLUMNS, step_rows(result))
        append_csv(self.path / ENDPOINTS_CSV, ENDPOINT_COLUMNS, endpoint_rows(result))
        append_csv(self.path / ERRORS_CSV, ERROR_COLUMNS, error_rows(result))
        entry = scenario_entry(result, config)
        scenarios = [s for s in self.record.scenarios if s.name != result.name] + [entry]
        update: dict[str, Any] = {"scenarios": scenarios}
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
    )
