"""The formation journal: written to disk *before* any formation change.

One JSON file per app, `<state dir>/journals/<app>.json`, where the state
dir is `HARNESS_STATE_DIR` or `.harness/` in the current directory. It holds
what a restore needs after anything, even `kill -9`: the app, the API host
it lives on, the original formation (every type: quantity and size), the
intended one, when and by which process. Writes are atomic (temp file, fsync,
rename, fsync of the directory), so a crash leaves the old file or the new
one, never half of one. It never holds a token.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness import __version__
from harness.errors import ConfigError, StaleJournalError
from harness.platform.models import Formation

__all__ = ["JOURNAL_SCHEMA_VERSION", "EmulatorRef", "Journal", "JournalStore", "default_state_dir"]

JOURNAL_SCHEMA_VERSION = 1
_SAFE_APP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def default_state_dir() -> Path:
    """`HARNESS_STATE_DIR`, else `.harness/` in the current directory."""
    return Path(os.environ.get("HARNESS_STATE_DIR") or ".harness")


class EmulatorRef(BaseModel):
    """The local emulator `harness run` started: how `harness restore` and `status` tell whether it is
    still there (`pid`) and talk to it (`api_url`, the token in `token_file`, mode 0600)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pid: int
    api_url: str
    token_file: str


class Journal(BaseModel):
    """What was there before harness changed an app's formation, and what it meant to change it to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = JOURNAL_SCHEMA_VERSION
    app: str
    api_host: str  # host[:port] of the Platform API the app lives on
    original: Formation  # restored exactly: every type, quantity and size
    intended: Formation
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    pid: int = Field(default_factory=os.getpid)  # the harness process that wrote it
    harness_version: str = __version__
    emulator: EmulatorRef | None = None  # set when the API was an emulator that harness started

    def restore_commands(self) -> list[str]:
        """The Heroku CLI commands that put the original formation back by hand."""
        scale = " ".join(f"{p.type}={p.quantity}" for p in self.original)
        sizes = " ".join(f"{p.type}={p.size.lower()}" for p in self.original)
        return [f"heroku ps:scale {scale} -a {self.app}", f"heroku ps:type {sizes} -a {self.app}"]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalStore:
    """The journals under one state directory (the formation's; `ReleaseJournalStore` the release's)."""

    subdir = "journals"
    model: type[Journal] = Journal

    def __init__(self, state_dir: Path | str | None = None) -> None:
        self.state_dir = Path(state_dir) if state_dir is not None else default_state_dir()

    @property
    def directory(self) -> Path:
        """Where the journal files live."""
        return self.state_dir / self.subdir

    def path_for(self, app: str) -> Path:
        """The journal file of one app."""
        if not _SAFE_APP.match(app):
            raise ConfigError(f"'{app}' is not a valid app name", field="app")
        return self.directory / f"{app}.json"

    def write(self, journal: BaseModel) -> Path:
        """Write atomically and durably: temp file, fsync, rename over, fsync the directory."""
        path = self.path_for(getattr(journal, "app"))  # noqa: B009 - every journal model has an app
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        data = json.dumps(journal.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.directory)
        return path

    def read(self, app: str) -> Journal | None:
        """The app's journal, or None when there is none."""
        path = self.path_for(app)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return Journal.model_validate_json(text)
        except ValidationError as exc:
            raise ConfigError(
                f"the journal is unreadable ({exc.errors()[0]['msg']}). It records the formation harness "
                "changed; restore by hand with `heroku ps:scale`/`heroku ps:type`, then delete it.",
                file=path,
            ) from None

    def delete(self, app: str) -> None:
        """Remove the app's journal (after a verified restore); absent is fine."""
        with contextlib.suppress(FileNotFoundError):
            self.path_for(app).unlink()
            _fsync_dir(self.directory)

    def apps(self) -> list[str]:
        """Apps that have a journal, sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json"))

    def ensure_absent(self, app: str) -> None:
        """Refuse to start a new change while an earlier one may still be in place."""
        journal = self.read(app)
        if journal is None:
            return
        raise StaleJournalError(
            f"A journal from {journal.created_at:%Y-%m-%d %H:%M:%S} UTC (harness pid {journal.pid}) shows "
            f"{app} may still be scaled to {journal.intended.describe()} instead of "
            f"{journal.original.describe()}. Run `harness restore --app {app}` first "
            f"(journal: {self.path_for(app)}).",
            app=app,
        )
