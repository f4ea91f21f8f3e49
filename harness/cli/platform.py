"""`harness scale`, `harness restore`, `harness status`: thin commands over `harness.platform`.

`harness scale` keeps the app scaled when it succeeds and leaves the journal in
place, so `harness restore` (or the next `harness run`, which refuses until
then) brings the original formation back; any failure, Ctrl-C or SIGTERM
during the scale-up restores at once. Output is for people; `--format json` is for
machines. The API token never appears in either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from harness.cli.app import app_option, json_output, scenarios_option
from harness.config import Guards, load_config
from harness.errors import ConfigError, RestoreError
from harness.platform import safe_scale
from harness.platform.formation import ScaleResult, restore
from harness.platform.heroku import HerokuClient
from harness.platform.journal import Journal, JournalStore
from harness.platform.models import Dyno, Formation, Release, parse_scale_args
from harness.platform.recovery import emulator_alive, emulator_note, explain_journal, forget_emulator
from harness.platform.release_switch import ReleaseJournalStore, restore_release
from harness.platform.signals import Interrupted
from harness.platform.target import PlatformTarget, emulator_platform, env_platform

__all__ = ["restore_command", "scale_command", "status_command"]


def _platform(ctx: click.Context) -> PlatformTarget:
    """The platform the environment names, its client closed when the command ends."""
    platform = env_platform()
    ctx.call_on_close(platform.client.close)
    return platform


def _client(ctx: click.Context) -> HerokuClient:
    """The client from the environment, closed when the command ends."""
    return _platform(ctx).client


def _store(state_dir: str | None) -> JournalStore:
    return JournalStore(Path(state_dir) if state_dir else None)


def _say(message: str) -> None:
    click.echo(message, err=True)


def _require_app(app: str | None) -> str:
    if not app:
        raise ConfigError("name the app with --app APP", field="--app")
    return app


def _guard_settings(ctx: click.Context, scenarios_path: str) -> tuple[set[str], Guards]:
    """Protected apps and ceilings: from scenarios.yaml when there is one, else the defaults."""
    explicit = ctx.get_parameter_source("scenarios_path") is not click.core.ParameterSource.DEFAULT
    if not explicit and not Path(scenarios_path).is_file():
        return set(), Guards()
    config = load_config(scenarios_path)
    return set(config.target.protected_apps), config.guards


state_dir_option = click.option(
    "--state-dir",
    envvar="HARNESS_STATE_DIR",
    default=None,
    help="Where journals live (default: $HARNESS_STATE_DIR or ./.harness).",
)
json_option = json_output


def _print_scale(result: ScaleResult, cost: float, store: JournalStore) -> None:
    click.echo(
        f"scaled {result.app} to {result.target.describe()} in {result.scale_up_latency_s:.1f} s "
        f"(about ${cost:.2f}/hour)"
    )
    for boot in result.dynos:
        took = f"boot {boot.boot_s:.1f} s" if boot.boot_s is not None else "boot time unknown"
        click.echo(f"  {boot.name:<12} {boot.size or '?':<16} {'already up' if boot.preexisting else took}")
    click.echo(
        f"The formation stays scaled; the journal is {store.path_for(result.app)}.\n"
        f"Run `harness restore --app {result.app}` to return to {result.original.describe()}."
    )


@click.command("scale")
@app_option
@click.argument("processes", nargs=-1, required=True, metavar="TYPE=QUANTITY[:SIZE]...")
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds to wait for every dyno to be up.",
)
@click.option("--yes", is_flag=True, help="Confirm a formation over the dyno or cost ceiling.")
@click.option(
    "--protect", multiple=True, metavar="APP", help="An app that must never be scaled (repeatable)."
)
@scenarios_option
@state_dir_option
@json_option
@click.pass_context
def scale_command(
    ctx: click.Context,
    app: str | None,
    processes: tuple[str, ...],
    timeout_s: float,
    yes: bool,
    protect: tuple[str, ...],
    scenarios_path: str,
    state_dir: str | None,
    as_json: bool,
) -> None:
    """Scale an app and wait until every dyno is up: `harness scale -a APP web=4:standard-2x worker=1`.

    The original formation is journaled first. On success the app stays scaled and
    the journal stays, until `harness restore`; on failure, Ctrl-C or SIGTERM it is
    restored at once."""
    app = _require_app(app)
    changes = parse_scale_args(processes)
    protected, guards = _guard_settings(ctx, scenarios_path)
    safety = safe_scale.SafeScale(
        app=app,
        targets={app},
        protected=protected | set(protect),
        guards=guards,
        confirmed=yes,
        store=_store(state_dir),
        progress=_say,
    )
    safety.refuse_offline()
    platform = _platform(ctx)
    cleared = safety.clear(platform, [changes])
    facts, target, cost = cleared.facts, cleared.targets[0], cleared.costs_per_hour_usd[0]
    store = safety.store
    _say(f"{app}: {facts.formation.describe()} → {target.describe()} (journal {store.path_for(app)})")
    try:
        with safety.session(platform, target, timeout_s=timeout_s, keep_scaled=True) as session:
            assert session.result is not None
            result = session.result
    except Interrupted as exc:
        _say(f"{exc}: the formation of {app} was restored to {facts.formation.describe()}.")
        ctx.exit(exc.exit_code)
    if as_json:
        click.echo(json.dumps({**result.model_dump(mode="json"), "cost_per_hour_usd": cost}, indent=2))
    else:
        _print_scale(result, cost, store)


@click.command("restore")
@app_option
@click.option(
    "--budget",
    "budget_s",
    type=float,
    default=120.0,
    show_default=True,
    envvar="HARNESS_RESTORE_BUDGET_S",
    help="Seconds to keep retrying through API faults before giving up (journal kept).",
)
@state_dir_option
@json_option
@click.pass_context
def restore_command(
    ctx: click.Context, app: str | None, budget_s: float, state_dir: str | None, as_json: bool
) -> None:
    """Put back the formation harness journaled (after a crash, kill -9, or `harness scale`).

    Without --app, restores every app with a journal. Idempotent: with no journal there is
    nothing to do. If it cannot finish, the journal is kept, the `heroku ps:scale` /
    `heroku ps:type` commands that would finish the job are printed, and it exits 4."""
    store = _store(state_dir)
    releases = ReleaseJournalStore(store.state_dir)
    apps = [app] if app else store.apps()
    release_apps = [a for a in ([app] if app else releases.apps()) if releases.read_release(a) is not None]
    if not apps and not release_apps:
        click.echo(json.dumps([]) if as_json else "nothing to restore: no journal found")
        return
    outcomes: list[dict[str, Any]] = []
    failure: RestoreError | None = None
    for name in release_apps:
        outcomes += _restore_release(_platform(ctx).client, releases, name, quiet=as_json)
    for name in apps:
        journal = store.read(name)
        platform = _platform_for(ctx, name, store, journal)
        if journal is not None and platform is None:  # the emulator that run started is gone
            explained = explain_journal(journal, store.path_for(name))
            store.delete(name)
            forget_emulator(store, name, journal.emulator)
            outcomes.append({"app": name, "restored": False, "discarded": True, "reason": explained})
            if not as_json:
                click.echo(f"{explained} Journal removed.")
            continue
        try:
            client = (platform or _platform(ctx)).client
            done = restore(client, name, store, budget_s=budget_s, progress=_say)
        except RestoreError as exc:
            if journal is not None and journal.emulator is not None and not emulator_alive(journal.emulator):
                # It stopped while we were restoring (it follows its killed parent): nothing is scaled.
                store.delete(name)
                forget_emulator(store, name, journal.emulator)
                click.echo(f"{explain_journal(journal, store.path_for(name))} Journal removed.")
                continue
            failure = failure or exc
            _say(f"error: {exc}")
            outcomes.append({"app": name, "restored": False, "manual_commands": exc.manual_commands})
            continue
        formation = done.formation.describe() if done.formation else None
        outcomes.append({"app": name, "restored": done.restored, "formation": formation})
        if not as_json:
            click.echo(f"restored {name} to {formation}" if done.restored else f"{name}: nothing to restore")
    if as_json:
        click.echo(json.dumps(outcomes, indent=2))
    if failure is not None:
        ctx.exit(failure.exit_code)


def _restore_release(
    client: HerokuClient, store: ReleaseJournalStore, app: str, *, quiet: bool
) -> list[dict[str, Any]]:
    """Put back the release an interrupted `harness ab` journaled (nothing when there is no journal)."""
    journal = store.read_release(app)
    if journal is None:
        return []
    done = restore_release(client, journal)
    store.delete(app)
    if not quiet:
        click.echo(
            f"restored {app} to the slug and config of v{journal.original_version} (now v{done.version})"
        )
    return [{"app": app, "restored": True, "release": journal.original_version}]


def _platform_for(
    ctx: click.Context, app: str, store: JournalStore, journal: Journal | None
) -> PlatformTarget | None:
    """The emulator `harness run` started for `app`, while it runs (unless HEROKU_API_URL names a
    platform). None when the journal's emulator is gone; else the environment's platform."""
    ref = journal.emulator if journal is not None else None
    if os.environ.get("HEROKU_API_URL"):
        return _platform(ctx)
    found = emulator_platform(ref) if ref is not None else None
    if found is None and ref is None and (note := emulator_note(store, app)) is not None:
        found = emulator_platform(note)
    if found is not None:
        ctx.call_on_close(found.client.close)
        return found
    return None if ref is not None else _platform(ctx)


def _dyno_line(dyno: Dyno) -> str:
    since = dyno.updated_at.strftime("%Y-%m-%d %H:%M:%S") if dyno.updated_at else "?"
    version = f"v{dyno.release_version}" if dyno.release_version is not None else ""
    return f"  {dyno.name:<12} {dyno.state.value:<10} {dyno.size or '?':<16} {version:<6} since {since}"


@click.command("status")
@app_option
@state_dir_option
@json_option
@click.pass_context
def status_command(ctx: click.Context, app: str | None, state_dir: str | None, as_json: bool) -> None:
    """Show an app's formation, its dynos with their states, the current release and any journal.

    Without --app, explains every journal harness left. While `harness run` has its own emulator
    running, it looks at that emulator (no token needed)."""
    store = _store(state_dir)
    if app is None:
        _explain_journals(store, as_json)
        return
    journal = store.read(app)
    platform = _platform_for(ctx, app, store, journal)
    if platform is None and journal is not None:  # the emulator that run started is gone
        explained = explain_journal(journal, store.path_for(app))
        click.echo(json.dumps({"app": app, "journal": explained}, indent=2) if as_json else explained)
        return
    client = (platform or _platform(ctx)).client
    info = client.app(app)
    formation = Formation.from_entries(client.formation(app))
    dynos = sorted(client.dynos(app), key=lambda d: (d.type, d.name))
    release = client.current_release(app)
    if as_json:
        data = {
            "app": info.model_dump(mode="json"),
            "formation": formation.as_dict(),
            "dynos": [d.model_dump(mode="json") for d in dynos],
            "release": release.model_dump(mode="json") if release else None,
            "journal": journal.model_dump(mode="json") if journal else None,
        }
        click.echo(json.dumps(data, indent=2))
        return
    _print_status(info.name, info.web_url, formation, dynos, release, journal, click.echo)


def _explain_journals(store: JournalStore, as_json: bool) -> None:
    """`harness status` without --app: what every journal means."""
    apps = store.apps()
    if not apps:
        raise ConfigError("name the app with --app APP (and no journal is left to explain)", field="--app")
    explained = {
        name: explain_journal(journal, store.path_for(name)) for name in apps if (journal := store.read(name))
    }
    if as_json:
        click.echo(json.dumps([{"app": name, "journal": text} for name, text in explained.items()], indent=2))
        return
    for text in explained.values():
        click.echo(text)


def _print_status(
    name: str,
    web_url: str | None,
    formation: Formation,
    dynos: list[Dyno],
    release: Release | None,
    journal: Journal | None,
    echo: Callable[[str], None],
) -> None:
    echo(f"app        {name}  {web_url or '(no web_url)'}")
    if release is None:
        echo("release    (nothing deployed)")
    else:
        by = f" by {release.user_email}" if release.user_email else ""
        echo(f"release    v{release.version}  {release.description}{by}")
    echo(f"formation  {formation.describe()}")
    echo(f"dynos      {len(dynos)}")
    for dyno in dynos:
        echo(_dyno_line(dyno))
    if journal is None:
        echo("journal    none")
    else:
        echo(
            f"journal    scaled by harness (pid {journal.pid}) at {journal.created_at:%Y-%m-%d %H:%M:%S} "
            f"from {journal.original.describe()}: run `harness restore --app {name}`"
        )
