"""The platform layer: the Platform API client, the formation lifecycle with its journal and
guaranteed restore, and the safety guards. The pipeline calls these; `harness scale`, `restore`
and `status` are thin commands over them."""

from __future__ import annotations

from harness.platform.auth import ApiToken, find_token
from harness.platform.formation import (
    FormationSession,
    Interrupted,
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

__all__ = [
    "ApiToken",
    "Formation",
    "FormationSession",
    "HerokuClient",
    "Interrupted",
    "Journal",
    "JournalStore",
    "PollPolicy",
    "PreflightFacts",
    "ProcessChange",
    "ProcessFormation",
    "RestoreResult",
    "RetryPolicy",
    "ScaleResult",
    "find_token",
    "parse_scale_args",
    "preflight",
    "restore",
    "scale_to",
    "snapshot",
]
