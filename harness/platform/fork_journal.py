"""The fork journal: what `harness fork` has done to the new app, written before each step.

One JSON file per new app, `<state dir>/fork-journals/<app>.json` (written
atomically like the formation's journal). It records the source, the new
app's id once created, when the creation was intended (so an app whose
creation answer was lost can still be recognised), each add-on provisioned
(source add-on → new add-on) and the steps finished. A re-run reads it and
continues; every step also checks the platform, so nothing is made twice.
It holds names and ids only: never a config var value or a token.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness import __version__
from harness.errors import ConfigError
from harness.platform.journal import JournalStore

__all__ = ["AddOnCopy", "ForkJournal", "ForkJournalStore"]


class AddOnCopy(BaseModel):
    """One add-on of the source and the one provisioned for the fork (same service)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str  # the source add-on's name
    service: str
    plan: str  # the plan provisioned (`service:plan`)
    target: str | None = None  # the new add-on's name, once the API answered


class ForkJournal(BaseModel):
    """A fork in progress (or finished): enough to continue it, or to recognise what it made."""

    model_config = ConfigDict(extra="forbid")

    app: str  # the new app (the journal's key)
    source: str
    api_host: str
    intended_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    app_id: str | None = None  # set as soon as `POST /apps` answered
    addons: list[AddOnCopy] = Field(default_factory=list)
    steps_done: list[str] = Field(default_factory=list)
    pid: int = Field(default_factory=os.getpid)
    harness_version: str = __version__

    def done(self, step: str) -> bool:
        """Whether `step` finished in an earlier (or this) run."""
        return step in self.steps_done


class ForkJournalStore(JournalStore):
    """Fork journals, beside the formation journals in their own directory."""

    subdir = "fork-journals"

    def read_fork(self, app: str) -> ForkJournal | None:
        """The journal of the fork that makes `app`, or None."""
        path = self.path_for(app)
        try:
            return ForkJournal.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValidationError:
            raise ConfigError(
                f"the fork journal is unreadable. Check the app by hand (`heroku apps:info -a {app}`), "
                "then delete the journal to start over.",
                file=path,
            ) from None
