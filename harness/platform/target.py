"""Which platform a command talks to, and the client for it: the one place that decides "local".

`harness run` either starts the bundled emulator (platform `emulator`, or `auto`
with no Heroku API URL or token configured, as on a newcomer's laptop) or
builds a client from the environment like the Heroku CLI does. Either way the
rest of harness gets one `PlatformTarget`: the client, and whether the API is
on this machine. Local means loopback load targets are allowed and Heroku's
load-testing guideline does not apply, and the emulator's CA (its routers serve
HTTPS as Heroku's do) is trusted besides the system's: `ca_file` is set for
local targets only, so a real Heroku app is always verified against the system's
CAs alone. Nothing else may ask `if local:`.
"""

from __future__ import annotations

import enum
import os
import secrets
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.config import Config, Platform
from harness.errors import AuthError, PlatformError
from harness.platform.auth import ApiToken, TokenSource, find_token
from harness.platform.heroku import DEFAULT_API_URL, HerokuClient, is_loopback_host
from harness.platform.journal import EmulatorRef, JournalStore
from harness.platform.recovery import emulator_alive, forget_emulator, remember_emulator

if TYPE_CHECKING:
    from harness.emulator.process import EmulatorProcess

__all__ = [
    "DEMO_APP_DIR",
    "PlatformKind",
    "PlatformTarget",
    "emulator_platform",
    "env_platform",
    "ignored_environment",
    "is_local",
    "open_platform",
    "uses_emulator",
]

DEMO_APP_DIR = Path(__file__).resolve().parents[1] / "emulator" / "demo_app"


class PlatformKind(enum.StrEnum):
    """What answers the Platform API, as run.json records it."""

    HEROKU = "heroku"  # api.heroku.com, or any HEROKU_API_URL that is not on this machine
    EMULATOR = "emulator"  # a local emulator: started here, or one on loopback that HEROKU_API_URL names


@dataclass(frozen=True)
class PlatformTarget:
    """The client for the platform under test, and what harness may assume about it."""

    client: HerokuClient
    local: bool  # the API is on this machine (loopback): loopback load targets are allowed
    emulator: EmulatorProcess | None = None  # the emulator harness started (and stops) for this command
    emulator_ref: EmulatorRef | None = None  # how a later command finds it (journaled with any change)
    ca_file: Path | None = None  # the emulator's CA (local targets only): trusted besides the system's

    def tls_verify(self) -> ssl.SSLContext:
        """What httpx verifies the app's HTTPS with: the system's CAs, plus the emulator's if local."""
        context = ssl.create_default_context()
        if self.ca_file is not None:
            context.load_verify_locations(cafile=str(self.ca_file))
        return context

    @property
    def started_here(self) -> bool:
        """Whether harness started this emulator: a journal of an earlier one died with its dynos."""
        return self.emulator is not None

    @property
    def kind(self) -> PlatformKind:
        """Emulator or Heroku, for the run record."""
        return PlatformKind.EMULATOR if self.local else PlatformKind.HEROKU

    @property
    def description(self) -> str:
        """'the local emulator' or 'Heroku', for plans and messages."""
        return describe_platform(emulator=self.local)


def describe_platform(*, emulator: bool) -> str:
    """'the local emulator' or 'Heroku'."""
    return "the local emulator" if emulator else "Heroku"


def uses_emulator(config: Config, environ: Mapping[str, str] | None = None) -> bool:
    """AUTO means the emulator when no Heroku API URL or token is configured, as a newcomer's laptop."""
    if config.target.platform is not Platform.AUTO:
        return config.target.platform is Platform.EMULATOR
    env = os.environ if environ is None else environ
    if env.get("HEROKU_API_URL"):
        return False
    try:
        find_token(dict(env))
    except AuthError:
        return True
    return False


def ignored_environment(config: Config, environ: Mapping[str, str] | None = None) -> str | None:
    """What `platform: emulator` leaves unused of a Heroku API configured in the environment, said
    out loud: a user who exported HEROKU_API_URL/HEROKU_API_KEY may think the run goes there."""
    if config.target.platform is not Platform.EMULATOR:
        return None
    env = os.environ if environ is None else environ
    named = [name for name in ("HEROKU_API_URL", "HEROKU_API_KEY") if env.get(name)]
    if not named:
        return None
    where = f" in {config.source}" if config.source else ""
    return (
        f"target.platform is emulator{where}, so {' and '.join(named)} from the environment "
        f"{'is' if len(named) == 1 else 'are'} not used (nor checked): this run goes to a local emulator "
        "started for it. Set target.platform to auto or heroku to test the platform they name."
    )


def is_local(config: Config, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the platform will be on this machine, before any client exists: the emulator harness
    starts, or a `HEROKU_API_URL` on loopback (an emulator the user runs)."""
    if uses_emulator(config, environ):
        return True
    env = os.environ if environ is None else environ
    return is_loopback_host(urlsplit(env.get("HEROKU_API_URL") or DEFAULT_API_URL).hostname)


def emulator_platform(ref: EmulatorRef) -> PlatformTarget | None:
    """A client for a still-running emulator that `harness run` started, with the token from its
    0600 file; None when it is gone."""
    if not emulator_alive(ref):
        return None
    try:
        token = Path(ref.token_file).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    client = HerokuClient(ApiToken(token, TokenSource.ARGUMENT), ref.api_url)
    return PlatformTarget(client=client, local=True)


def env_platform(environ: Mapping[str, str] | None = None) -> PlatformTarget:
    """The platform the environment names (`HEROKU_API_URL`, `HEROKU_API_KEY` or netrc), like the
    Heroku CLI; the caller closes `target.client`."""
    client = HerokuClient.from_env(environ)
    if not client.is_loopback:
        return PlatformTarget(client=client, local=False)
    return PlatformTarget(client=client, local=True, ca_file=_emulator_ca(client))


def _emulator_ca(client: HerokuClient) -> Path | None:
    """The CA of an emulator the user runs on loopback (`GET /__emulator/tls`); None if it has none."""
    try:
        answer = client.request("GET", "/__emulator/tls", idempotent=True).json()
    except (PlatformError, ValueError):
        return None
    ca_file = answer.get("ca_file") if isinstance(answer, dict) else None
    return Path(ca_file) if isinstance(ca_file, str) and ca_file else None


def _quiet(_: str) -> None:
    """The default progress sink: say nothing."""


@contextmanager
def open_platform(
    config: Config, *, progress: Callable[[str], None] = _quiet, store: JournalStore | None = None
) -> Iterator[PlatformTarget]:
    """The target's platform for the length of a command: a local emulator started (and always
    stopped) here, or the environment's Heroku client (always closed). `store`: where the
    emulator's token file goes (default: the state dir)."""
    if not uses_emulator(config):
        target = env_platform()
        try:
            yield target
        finally:
            target.client.close()
        return
    with _started_emulator(config, progress, store or JournalStore()) as target:
        yield target


@contextmanager
def _started_emulator(
    config: Config, progress: Callable[[str], None], store: JournalStore
) -> Iterator[PlatformTarget]:
    """Start the emulator with the target app (default: the demo app) and its config vars; say
    where its API is, with the token in a 0600 file, so `harness status` can look at it meanwhile."""
    from harness.emulator.process import EmulatorProcess  # a subprocess of its own: never gevent-patched

    app = config.target.app
    app_dir = config.target.emulator.app_dir or DEMO_APP_DIR
    progress(
        f"starting the local emulator with {app_dir.name} as {app} (built first, as Heroku builds a push)"
    )
    token = secrets.token_urlsafe(24)
    emulator = EmulatorProcess.start(
        apps={app: app_dir}, token=token, boot_timeout_s=config.target.emulator.boot_timeout_s
    )
    ref = None
    try:
        ref = remember_emulator(store, app, pid=emulator.pid, api_url=emulator.api_url, token=token)
        progress(
            f"emulator API {ref.api_url} (pid {ref.pid}), token in {ref.token_file} (mode 0600); "
            f"meanwhile `harness status --app {app}` looks at it"
        )
        client = HerokuClient(ApiToken(token, TokenSource.ARGUMENT), emulator.api_url)
        try:
            if config.target.emulator.config_vars:
                client.request(
                    "PATCH",
                    f"/apps/{app}/config-vars",
                    body=dict(config.target.emulator.config_vars),
                    idempotent=True,
                    app=app,
                )
            yield PlatformTarget(
                client=client, local=True, emulator=emulator, emulator_ref=ref, ca_file=emulator.ca_file
            )
        finally:
            client.close()
    finally:
        emulator.stop()
        forget_emulator(store, app, ref)
        progress("emulator stopped")
