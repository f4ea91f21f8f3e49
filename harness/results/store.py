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

import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from harness.errors import ResultsError
from harness.measurements import BreakingPoint, SearchStatus
from harness.results.files import (
    ENDPOINT_COLUMNS,
    ERROR_COLUMNS,
    RUN_JSON,
    STEP_COLUMNS,
    TIMESERIES_COLUMNS,
    write_atomically,
)
from harness.results.model import RunMeta, RunRecord, RunStatus
from harness.results.rundir import RunDir
from harness.results.writer import RunJudge, RunWriter, fill_versions, this_writer

__all__ = [
    "DEFAULT_REPORTS_DIR",
    "ENDPOINT_COLUMNS",
    "ERROR_COLUMNS",
    "STEP_COLUMNS",
    "TIMESERIES_COLUMNS",
    "RunDir",
    "RunJudge",
    "RunStore",
    "RunSummary",
    "RunWriter",
    "write_atomically",
]

DEFAULT_REPORTS_DIR = Path("reports")


class RunSummary(BaseModel):
    """One line of `harness history`: what a stakeholder compares across releases."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    path: str
    app: str
    release: int | None
    started_at: datetime
    status: RunStatus
    verdict: str  # 'pass' | 'fail' | 'incomplete' | 'failed' | 'running' | 'unjudged'
    breaking_point: float | None  # sustainable req/s at the breaking point, else its level
    breaking_point_unit: str | None  # 'req/s' or 'users'
    # The search never broke up to this level (its max): the breaking point lies above it.
    breaking_point_above: float | None = None
    p95_at_expected_ms: float | None
    headroom: float | None

    @classmethod
    def of(cls, run: RunDir, judge: RunJudge | None = None) -> RunSummary:
        """Summarise a run from its run.json (the CSVs are not read).

        A run that was never judged (killed before it finished) is judged by `judge` when given."""
        record = run.record
        if record.verdict is None and judge is not None:
            record = record.model_copy(update={"verdict": judge(record)})
        point = record.breaking_point
        value, unit = _breaking_value(point)
        above = point.level if point is not None and point.status == SearchStatus.NOT_REACHED else None
        unit = unit or (point.mode.unit if above is not None and point is not None else None)
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
            breaking_point_above=above,
            p95_at_expected_ms=record.p95_at_expected_ms(),
            headroom=record.verdict.headroom if record.verdict else None,
        )


class RunStore:
    """The directory holding one subdirectory per run (default `reports/`)."""

    def __init__(self, reports_dir: str | Path = DEFAULT_REPORTS_DIR) -> None:
        self.reports_dir = Path(reports_dir)

    def create(
        self, app: str, meta: RunMeta | None = None, *, now: datetime | None = None, name: str | None = None
    ) -> RunWriter:
        """Start a run: a new directory with run.json (status 'running'), empty CSVs and events.

        `name`: the directory's name (a formation of a multi-formation run), else date-app-release."""
        meta = meta or RunMeta()
        started = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        path = self._new_dir(name or _run_name(started, app, meta.release.version))
        record = RunRecord(
            **meta.model_dump(exclude={"versions"}),
            versions=fill_versions(meta.versions),
            run_id=path.name,
            app=app,
            started_at=started,
            writer=this_writer(),
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

    def history(self, app: str | None = None, judge: RunJudge | None = None) -> list[RunSummary]:
        """Summaries of the runs (of `app`), newest first; unreadable directories are skipped."""
        summaries: list[RunSummary] = []
        for path in self.run_dirs():
            try:
                run = RunDir.open(path)
            except ResultsError:
                continue
            if app is None or run.record.app == app:
                summaries.append(RunSummary.of(run, judge))
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


def _run_name(started: datetime, app: str, release: int | None) -> str:
    """'20261129T121500Z-harness-demo-v52' (no '-vN' when the release is unknown)."""
    safe_app = re.sub(r"[^A-Za-z0-9_.-]+", "-", app).strip("-.") or "app"
    suffix = f"-v{release}" if release is not None else ""
    return f"{started:%Y%m%dT%H%M%SZ}-{safe_app}{suffix}"


def _breaking_value(point: BreakingPoint | None) -> tuple[float | None, str | None]:
    if point is None or point.status != SearchStatus.FOUND:
        return None, None
    if point.sustainable_rps is not None:
        return point.sustainable_rps, "req/s"
    return point.level, point.mode.unit


def _verdict_word(record: RunRecord) -> str:
    if record.status == RunStatus.RUNNING:
        return "running"
    if record.status == RunStatus.INCOMPLETE:
        return "incomplete"
    if record.status == RunStatus.FAILED:
        return "failed"
    if record.verdict is None:
        return "unjudged"
    return "pass" if record.verdict.passed else "fail"
