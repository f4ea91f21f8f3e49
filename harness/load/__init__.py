"""Driving Locust in-process: sessions, the step driver, windowed statistics, workers, pacing.

Importing this package imports Locust, which monkey-patches the process with
gevent: only the CLI entry point (which patches first) and the pipeline import
it, never `emulator/`, `capacity/` or `report/` (STYLE §8). Scenarios are run by
`harness.engine`, which drives this package.

    with LoadSession(user_classes, SessionOptions(...)) as session:
        result = run_steps(session, plan_generator)                # any StepPlan generator
"""

from harness.load.locustfile import LoadedLocustfile, check_locustfiles, load_locustfile, select_user_classes
from harness.load.pacing import Pacer, PacingMode
from harness.load.runner import (
    Clock,
    LoadSession,
    Measured,
    ScenarioAborted,
    SessionOptions,
    WallClock,
    ensure_reachable,
    run_steps,
)

__all__ = [
    "Clock",
    "LoadSession",
    "LoadedLocustfile",
    "Measured",
    "Pacer",
    "PacingMode",
    "ScenarioAborted",
    "SessionOptions",
    "WallClock",
    "check_locustfiles",
    "ensure_reachable",
    "load_locustfile",
    "run_steps",
    "select_user_classes",
]
