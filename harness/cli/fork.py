"""`harness fork` and `harness destroy-fork`: thin commands over `platform.fork`.

Every API write is printed (on stderr) before it is sent, config var values
as `[secure]`; `--dry-run` prints them without sending. Settings come from the
options over scenarios.yaml's `target.fork`. Ctrl-C or SIGTERM stops the fork
with its journal kept: the same command continues it.
"""

from __future__ import annotations

import json

import click

from harness.cli.app import scenarios_option
from harness.cli.parity import target_settings
from harness.config import ForkSpec
from harness.errors import ConfigError, GuardError
from harness.platform.fork import ForkOptions, destroy_fork, fork_app
from harness.platform.fork_journal import ForkJournalStore
from harness.platform.parity import compare
from harness.platform.parity_check import report_lines
from harness.platform.profile import read_profile
from harness.platform.signals import Interrupted, SignalPolicy
from harness.platform.target import env_platform

__all__ = ["destroy_fork_command", "fork_command"]


def _say(text: str) -> None:
    click.echo(text, err=True)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise ConfigError(f"`{option}` takes NAME=VALUE (got one without `=`)", field=option)
        pairs[name] = rest
    return pairs


state_dir_option = click.option(
    "--state-dir",
    envvar="HARNESS_STATE_DIR",
    default=None,
    help="Where journals live (default: $HARNESS_STATE_DIR or ./.harness).",
)


@click.command("fork")
@click.option("--from", "source", required=True, help="The app to copy (only ever read).")
@click.option("--to", "target", required=True, help="The new staging app's name.")
@click.option("--exclude", multiple=True, metavar="NAME", help="A config var not to copy (repeatable).")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="A config var to set instead (visible to `ps`: prefer target.fork.config_overrides).",
)
@click.option(
    "--plan",
    "plans",
    multiple=True,
    metavar="SERVICE=PLAN",
    help="Another add-on plan, e.g. a cheaper database.",
)
@click.option("--copy-data", is_flag=True, default=None, help="Copy the Postgres data (pg_dump | psql).")
@click.option("--dry-run", is_flag=True, help="Print every API call instead of sending it.")
@scenarios_option
@state_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def fork_command(
    ctx: click.Context,
    source: str,
    target: str,
    exclude: tuple[str, ...],
    overrides: tuple[str, ...],
    plans: tuple[str, ...],
    copy_data: bool | None,
    dry_run: bool,
    scenarios_path: str,
    state_dir: str | None,
    as_json: bool,
) -> None:
    """Make a disposable staging copy of an app: same region and stack, config vars (less
    exclusions, plus overrides), add-ons of the same services, the same slug, every process type
    at 0 dynos; optionally the Postgres data.

    The source app is never changed. Idempotent and resumable: after a failure or Ctrl-C, run
    the same command again. `harness destroy-fork --app NEW` deletes the copy."""
    settings = target_settings(ctx, scenarios_path)
    spec = settings.fork if settings else ForkSpec()
    protected: set[str] = set()
    if settings is not None:
        protected = {*settings.protected_apps, *(a for a in [settings.production_app] if a)}
    if target in protected:
        raise GuardError(f"'{target}' is a protected app: a fork must be a new app", field="--to")
    options = ForkOptions(
        source=source,
        target=target,
        exclude=frozenset(spec.exclude_config) | frozenset(exclude),
        overrides={**spec.config_overrides, **_pairs(overrides, "--set")},
        addon_plans={**spec.addon_plans, **_pairs(plans, "--plan")},
        copy_data=spec.copy_data if copy_data is None else copy_data,
        dry_run=dry_run,
    )
    platform = env_platform()
    ctx.call_on_close(platform.client.close)
    store = ForkJournalStore(state_dir)
    try:
        with SignalPolicy():
            result = fork_app(platform.client, options, store=store, say=_say)
    except Interrupted as exc:
        _say(
            f"{exc}: the fork of {source} into {target} stopped; its journal is kept. Run the same "
            "command to continue."
        )
        ctx.exit(exc.exit_code)
    report = None
    if not dry_run:
        report = compare(read_profile(platform.client, source), read_profile(platform.client, target))
    if as_json:
        out = {
            "app": result.app,
            "source": result.source,
            "dry_run": dry_run,
            "resumed": result.resumed,
            "calls": result.calls,
            "addons": [a.model_dump() for a in result.addons],
            "skipped": result.skipped,
            "parity": report.model_dump(mode="json") if report else None,
        }
        click.echo(json.dumps(out, indent=2))
        return
    verb = "would fork" if dry_run else ("finished forking" if result.resumed else "forked")
    click.echo(
        f"{verb} {source} into {target}: {len(result.calls)} API call(s), every process type at 0 dynos"
    )
    for addon in result.addons:
        click.echo(f"  add-on {addon.source} -> {addon.target or '(new)'} ({addon.plan})")
    for note in result.skipped:
        click.echo(f"  not copied: {note}")
    if report is not None:
        click.echo("\n".join(f"  {line}" for line in report_lines(report)))


@click.command("destroy-fork")
@click.option("--app", "-a", "app", required=True, help="The fork to delete.")
@click.option("--dry-run", is_flag=True, help="Print the API call instead of sending it.")
@state_dir_option
@click.pass_context
def destroy_fork_command(ctx: click.Context, app: str, dry_run: bool, state_dir: str | None) -> None:
    """Delete an app that `harness fork` made (its add-ons go with it), and only such an app:
    it must carry the HARNESS_FORK_OF marker the fork set."""
    platform = env_platform()
    ctx.call_on_close(platform.client.close)
    source = destroy_fork(platform.client, app, store=ForkJournalStore(state_dir), dry_run=dry_run, say=_say)
    click.echo(f"{'would delete' if dry_run else 'deleted'} {app} (a fork of {source})")
