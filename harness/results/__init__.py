"""Run directories on disk: the run.json schema (`model`) and the store that writes and reads them.

The pipeline writes a run through `RunStore.create()` → `RunWriter`; reports
and `harness history` read it back through `RunDir.open()` / `RunStore.history()`.
"""

from __future__ import annotations

from harness.results.model import (
    SCHEMA_VERSION,
    DynoGroup,
    FormationRun,
    LevelInfo,
    LoadGeneratorInfo,
    PlatformInfo,
    ReleaseInfo,
    RunMeta,
    RunRecord,
    RunStatus,
    RunVerdict,
    ScaleUp,
    ScenarioEntry,
    Versions,
)
from harness.results.store import DEFAULT_REPORTS_DIR, RunDir, RunStore, RunSummary, RunWriter

__all__ = [
    "DEFAULT_REPORTS_DIR",
    "SCHEMA_VERSION",
    "DynoGroup",
    "FormationRun",
    "LevelInfo",
    "LoadGeneratorInfo",
    "PlatformInfo",
    "ReleaseInfo",
    "RunDir",
    "RunMeta",
    "RunRecord",
    "RunStatus",
    "RunStore",
    "RunSummary",
    "RunVerdict",
    "RunWriter",
    "ScaleUp",
    "ScenarioEntry",
    "Versions",
]
