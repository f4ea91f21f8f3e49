"""Reading a run directory back: run.json (upgraded) and the CSVs as DataFrames.

A run whose status is 'running' but whose writer process is gone reads as
'incomplete'.
"""

from __future__ import annotations

import contextlib
import json
import socket
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from pydantic import ValidationError

from harness.errors import ResultsError
from harness.results.files import (
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
    read_csv,
)
from harness.results.model import RunRecord, RunStatus, WriterInfo, upgrade

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunDir", "effective_status"]


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
            raise ResultsError(f"{path / RUN_JSON} cannot be read: {first_line(exc)}.") from None
        return cls(path, effective_status(record, died_in=_last_phase(path)))

    @property
    def interrupted(self) -> bool:
        """The run did not end normally (killed, Ctrl-C, or still being written)."""
        return self.record.status in {RunStatus.INCOMPLETE, RunStatus.RUNNING}

    @cached_property
    def timeseries(self) -> pd.DataFrame:
        """timeseries.csv (TIMESERIES_COLUMNS)."""
        return read_csv(self.path / TIMESERIES_CSV, TIMESERIES_COLUMNS)

    @cached_property
    def steps(self) -> pd.DataFrame:
        """steps.csv (STEP_COLUMNS)."""
        return read_csv(self.path / STEPS_CSV, STEP_COLUMNS)

    @cached_property
    def endpoints(self) -> pd.DataFrame:
        """endpoints.csv (ENDPOINT_COLUMNS)."""
        return read_csv(self.path / ENDPOINTS_CSV, ENDPOINT_COLUMNS)

    @cached_property
    def errors(self) -> pd.DataFrame:
        """errors.csv (ERROR_COLUMNS)."""
        return read_csv(self.path / ERRORS_CSV, ERROR_COLUMNS)

    @cached_property
    def events(self) -> list[dict[str, Any]]:
        """events.jsonl; a line cut short by a kill is skipped."""
        events: list[dict[str, Any]] = []
        with contextlib.suppress(FileNotFoundError), open(self.path / EVENTS, encoding="utf-8") as f:
            for line in f:
                with contextlib.suppress(json.JSONDecodeError):
                    events.append(json.loads(line))
        return events


def _writer_alive(writer: WriterInfo | None) -> bool:
    """Whether the process that wrote the run is still running (same host, same pid, same start)."""
    if writer is None or writer.hostname != socket.gethostname():
        return False
    try:
        started = psutil.Process(writer.pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return writer.pid_started_ts is None or abs(started - writer.pid_started_ts) < 1.0


def _last_phase(path: Path) -> str | None:
    """'the load phase (load scenario shop-load)': the last phase events.jsonl recorded."""
    phase = None
    with contextlib.suppress(FileNotFoundError), open(path / EVENTS, encoding="utf-8") as f:
        for line in f:
            with contextlib.suppress(json.JSONDecodeError, AttributeError):
                event = json.loads(line)
                if event.get("event") == "phase":
                    detail = f" ({event['detail']})" if event.get("detail") else ""
                    phase = f"the {event.get('phase')} phase{detail}"
    return phase


def effective_status(record: RunRecord, *, died_in: str | None = None) -> RunRecord:
    """A run still 'running' whose writer is gone reads as incomplete, with where it stopped."""
    if record.status != RunStatus.RUNNING or _writer_alive(record.writer):
        return record
    pid = record.writer.pid if record.writer else "?"
    during = f" during {died_in}" if died_in else ""
    failure = record.failure or f"the harness process (pid {pid}) stopped{during} before finishing the run"
    return record.model_copy(update={"status": RunStatus.INCOMPLETE, "failure": failure})


def first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
