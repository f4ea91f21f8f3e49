"""The phases of `harness run`, in order: one enum shared by the pipeline and the multi-formation loop."""

from __future__ import annotations

import enum

__all__ = ["Phase"]


class Phase(enum.Enum):
    """The pipeline's phases, in order; `RESTORE` runs whatever happened before it."""

    PREFLIGHT = "preflight"  # config, token, app, guards, target reachable, no stale journal
    SNAPSHOT = "snapshot"  # read the current formation and journal it before any change
    SCALE = "scale"  # one batch update, then wait until every dyno is up
    WARMUP = "warmup"  # the first requests through the router until the app answers
    LOAD = "load"  # load, spike and soak scenarios: SLO verdicts at the expected load
    STRESS = "stress"  # the breaking-point search and the recovery after it
    RESTORE = "restore"  # the journaled formation back, verified
    REPORT = "report"  # run directory finished, HTML/JSON/JUnit rendered
    DONE = "done"
