"""The platform layer: the Platform API client, the formation lifecycle with its journal and
guaranteed restore, and the safety guards. The pipeline calls these; `harness scale`, `restore`
and `status` are thin commands over them. `target` is the one place that decides whether the
platform is local, `signals` the one Ctrl-C/SIGTERM policy, and `safe_scale` the one sequence of
refusals before a change."""

from __future__ import annotations

from harness.platform.auth import ApiToken, find_token
from harness.platform.formation import (
    FormationSession,
    PollPolicy,
    RestoreResult,
    ScaleResult,
    restore,
    scale_to,
    snapshot,
)
from harness.platform.guard import PreflightFacts, preflight
from harness.platform.heroku import HerokuClient, RetryPolicy
from harness.platform.journal import Journal, JournalStore
from harness.platform.models import Formation, ProcessChange, ProcessFormation, parse_scale_args
from harness.platform.safe_scale import SafeScale
from harness.platform.signals import Interrupted, SignalPolicy
from harness.platform.target import PlatformTarget, open_platform

__all__ = [
    "ApiToken",
    "Formation",
    "FormationSession",
    "HerokuClient",
    "Interrupted",
    "Journal",
    "JournalStore",
    "PlatformTarget",
    "PollPolicy",
    "PreflightFacts",
    "ProcessChange",
    "ProcessFormation",
    "RestoreResult",
    "RetryPolicy",
    "SafeScale",
    "ScaleResult",
    "SignalPolicy",
    "find_token",
    "open_platform",
    "parse_scale_args",
    "preflight",
    "restore",
    "scale_to",
    "snapshot",
]
