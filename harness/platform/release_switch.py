"""Switching an app between releases for an A/B test, journaled and always switched back.

`harness ab` runs the base and the new release in ABBA order on one scaled
formation. Each switch is a rollback (`POST /apps/{app}/releases` naming the
release: a new version with that release's slug and config vars, as on
Heroku), then a wait until every dyno runs it. Before the first switch the
release that was current is journaled (`<state dir>/release-journals/<app>.json`);
on every exit path — success, error, Ctrl-C, SIGTERM — the app is switched
back to a release with that slug and config, and `harness restore` does the
same from the journal after `kill -9`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness import __version__
from harness.errors import ConfigError, PlatformError
from harness.platform.heroku import HerokuClient
from harness.platform.journal import JournalStore
from harness.platform.models import Release

__all__ = ["ReleaseJournal", "ReleaseJournalStore", "ReleaseSwitch", "restore_release"]


class ReleaseJournal(BaseModel):
    """The release an A/B test found current, so it can be put back after anything."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app: str
    api_host: str
    original_release_id: str
    original_version: int
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    pid: int = Field(default_factory=os.getpid)
    harness_version: str = __version__


class ReleaseJournalStore(JournalStore):
    """Release journals, beside the formation journals in their own directory."""

    subdir = "release-journals"

    def read_release(self, app: str) -> ReleaseJournal | None:
        """The app's release journal, or None."""
        path = self.path_for(app)
        try:
            return ReleaseJournal.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except ValidationError:
            raise ConfigError(
                "the release journal is unreadable; put the release back by hand with "
                "`heroku releases:rollback`, then delete it.",
                file=path,
            ) from None


def _rollback(client: HerokuClient, app: str, release_id: str) -> Release:
    response = client.request(
        "POST", f"/apps/{app}/releases", body={"release": release_id}, idempotent=False, app=app
    )
    return client._parse(Release, response)  # the client's own parser: schema errors read the same


def _wait_running(
    client: HerokuClient, app: str, version: int, timeout_s: float, sleep: Callable[[float], None]
) -> None:
    """Until every dyno is up on `version` (a release restarts them, as on Heroku)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        dynos = [d for d in client.dynos(app) if d.type == "web"]
        if dynos and all(d.state == "up" and d.release_version == version for d in dynos):
            return
        sleep(0.2)
    raise PlatformError(
        f"the dynos of {app} did not all come up on release v{version} within {timeout_s:g} s."
    )


def restore_release(
    client: HerokuClient,
    journal: ReleaseJournal,
    *,
    timeout_s: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Release:
    """Put the journaled release back (a rollback to it unless it is still current)."""
    current = client.current_release(journal.app)
    if current is not None and current.id == journal.original_release_id:
        return current
    release = _rollback(client, journal.app, journal.original_release_id)
    _wait_running(client, journal.app, release.version, timeout_s, sleep)
    return release


class ReleaseSwitch:
    """Context manager: journal the current release, switch at will, switch back on every exit."""

    def __init__(
        self,
        client: HerokuClient,
        app: str,
        *,
        store: ReleaseJournalStore | None = None,
        timeout_s: float = 120.0,
        progress: Callable[[str], None] = lambda _text: None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.app, self.timeout_s = client, app, timeout_s
        self.store = store or ReleaseJournalStore()
        self.progress, self.sleep = progress, sleep
        self.journal: ReleaseJournal | None = None
        self.restored: Release | None = None
        self.running: int | None = None  # the version whose slug and config the app runs now

    def __enter__(self) -> ReleaseSwitch:
        if self.store.read_release(self.app) is not None:
            raise ConfigError(
                f"a release journal of {self.app} is left from an earlier A/B test: run "
                f"`harness restore --app {self.app}` first ({self.store.path_for(self.app)}).",
                field="app",
            )
        current = self.client.current_release(self.app)
        if current is None:
            raise PlatformError(f"{self.app} has no release to come back to.", app=self.app)
        self.journal = ReleaseJournal(
            app=self.app,
            api_host=self.client.api_host,
            original_release_id=current.id,
            original_version=current.version,
        )
        self.store.write(self.journal)
        return self

    def release(self, version: int) -> Release:
        """The release of the app with this version number (404 → a clear error)."""
        for release in self.client.releases(self.app):
            if release.version == version:
                return release
        raise ConfigError(f"{self.app} has no release v{version}; `heroku releases` lists them.", field="ab")

    def switch_to(self, version: int) -> Release:
        """Make the app run release `version` (a new version with its slug and config)."""
        source = self.release(version)
        current = self.client.current_release(self.app)
        if current is not None and (current.id == source.id or self.running == version):
            self.running = version
            return current
        self.progress(f"switching {self.app} to the slug and config of v{version}")
        switched = _rollback(self.client, self.app, source.id)
        _wait_running(self.client, self.app, switched.version, self.timeout_s, self.sleep)
        self.running = version
        return switched

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.journal is None:
            return
        self.progress(f"switching {self.app} back to v{self.journal.original_version}")
        self.restored = restore_release(self.client, self.journal, timeout_s=self.timeout_s, sleep=self.sleep)
        with contextlib.suppress(FileNotFoundError):
            self.store.delete(self.app)
