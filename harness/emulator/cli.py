"""The `emulator` click group: `harness emulator serve` runs the local Heroku until Ctrl-C.

It lives in the emulator (which stands alone: it imports click, itself and
`harness.errors` only), so `python -m harness.emulator` never loads
`harness.cli`; `harness.cli.app` lists this group among its lazy commands.
"""

from __future__ import annotations

import dataclasses
import secrets
from pathlib import Path

import click

from harness.emulator.cli_run import run_command
from harness.emulator.deploy import deploy_directory
from harness.emulator.home import HOME_ENV
from harness.emulator.server import DEFAULT_APP_NAME, ReadyInfo, ServerOptions, check_loopback, serve
from harness.emulator.settings import RuntimeSettings
from harness.errors import ConfigError, exit_codes_help

__all__ = ["TOKEN_ENV", "emulator", "parse_app_option", "parse_setting_option"]

TOKEN_ENV = "HARNESS_EMULATOR_TOKEN"
_SETTING_TYPES = {f.name: f.type for f in dataclasses.fields(RuntimeSettings)}


def parse_app_option(raw: str) -> tuple[str, Path]:
    """`NAME=DIR` -> (name, existing directory)."""
    name, sep, directory = raw.partition("=")
    if not sep or not name or not directory:
        raise ConfigError(
            f"--app {raw!r}: use NAME=DIR, e.g. --app shop=./my-shop (a directory with a Procfile)."
        )
    path = Path(directory).expanduser().resolve()
    if not path.is_dir():
        raise ConfigError(f"--app {raw!r}: {path} is not a directory.")
    return name, path


def parse_setting_option(raw: str) -> tuple[str, float | int | bool]:
    """`NAME=VALUE` for any `RuntimeSettings` field (e.g. `crash_cooloff_s=1`)."""
    name, sep, value = raw.partition("=")
    kind = _SETTING_TYPES.get(name)
    if not sep or kind is None:
        known = ", ".join(sorted(_SETTING_TYPES))
        raise ConfigError(f"--setting {raw!r}: use NAME=VALUE with NAME one of {known}.")
    try:
        if kind in (bool, "bool"):
            return name, value.strip().lower() in ("1", "true", "yes", "on")
        if kind in (int, "int"):
            return name, int(value)
        return name, float(value)
    except ValueError:
        raise ConfigError(f"--setting {raw!r}: {value!r} is not a number.") from None


def _settings(named: dict[str, float | None], extra: tuple[str, ...]) -> RuntimeSettings:
    values: dict[str, float | int | bool] = {k: v for k, v in named.items() if v is not None}
    values.update(parse_setting_option(raw) for raw in extra)
    return RuntimeSettings(**values)  # type: ignore[arg-type]


def _print_ready(info: ReadyInfo, token_generated: bool) -> None:
    click.echo(f"Heroku emulator (pid {info.pid}) listening")
    click.echo(f"  Platform API:  {info.api_url}   (use it as HEROKU_API_URL)")
    if token_generated:
        click.echo(f"  API token:     {info.token}   (generated for this run; loopback-only dev token)")
    else:
        click.echo(f"  API token:     the one you gave (--token / {TOKEN_ENV}); not shown")
    for name, app in info.apps.items():
        click.echo(f"  app {name}:  {app['web_url']}   (id {app['id']})")
    click.echo(f"  HTTPS CA:      {info.ca_file}   (trust it to verify the apps' https:// URLs)")
    click.echo("Ctrl-C stops every dyno and exits.", nl=True)


@click.group("emulator", context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_codes_help())
def emulator() -> None:
    """A local Heroku on loopback: Platform API, router and dynos from a Procfile."""


@emulator.command("serve", epilog=exit_codes_help())
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", type=int, default=0, show_default=True, help="Platform API port (0 = any free port).")
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="NAME=DIR",
    help=f"Run DIR (with a Procfile) as app NAME; repeatable. Default: the demo app as {DEFAULT_APP_NAME}.",
)
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    show_envvar=True,
    default=None,
    help="Bearer token the API accepts. Default: a fresh random token, printed once.",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write api_url, token, pid and apps as JSON here (mode 0600) once everything listens.",
)
@click.option(
    "--boot-timeout", type=float, default=None, help="Seconds a web dyno has to bind $PORT (R10). [60]"
)
@click.option(
    "--router-timeout", type=float, default=None, help="Seconds before the router answers H12. [30]"
)
@click.option(
    "--metrics-interval", type=float, default=None, help="Seconds between runtime-metrics lines. [20]"
)
@click.option("--boot-delay", type=float, default=None, help="Extra seconds before a dyno counts as up. [0]")
@click.option(
    "--setting",
    "extra_settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Any other runtime setting, e.g. shutdown_grace_s=1 or crash_cooloff_s=1; repeatable.",
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=HOME_ENV,
    show_envvar=True,
    default=None,
    help="Emulator home: its HTTPS CA and app builds. Default: ~/.cache/harness/emulator.",
)
@click.option("--exit-with-parent", is_flag=True, hidden=True, help="Stop when the parent process is gone.")
def serve_command(
    host: str,
    port: int,
    apps: tuple[str, ...],
    token: str | None,
    ready_file: Path | None,
    boot_timeout: float | None,
    router_timeout: float | None,
    metrics_interval: float | None,
    boot_delay: float | None,
    extra_settings: tuple[str, ...],
    home: Path | None,
    exit_with_parent: bool,
) -> None:
    """Start the Platform API and every app's router and dynos; Ctrl-C/SIGTERM stops them all."""
    check_loopback(host)
    named = {
        "boot_timeout_s": boot_timeout,
        "router_timeout_s": router_timeout,
        "metrics_interval_s": metrics_interval,
        "boot_delay_s": boot_delay,
    }
    generated = not token
    options = ServerOptions(
        token=token or secrets.token_urlsafe(24),
        host=host,
        port=port,
        apps=tuple(parse_app_option(raw) for raw in apps),
        ready_file=ready_file,
        exit_with_parent=exit_with_parent,
        settings=_settings(named, extra_settings),
        home=home,
    )
    serve(options, lambda info: _print_ready(info, generated))


@emulator.command("deploy", epilog=exit_codes_help())
@click.argument("app")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--api-url",
    envvar="HEROKU_API_URL",
    show_envvar=True,
    required=True,
    help="The emulator's Platform API URL.",
)
@click.option("--token", envvar=TOKEN_ENV, show_envvar=True, required=True, help="The emulator's API token.")
@click.option(
    "--version",
    "source_version",
    default=None,
    help="What the release records as the commit when "
    "DIRECTORY is not a git repository (default: a digest of its files).",
)
def deploy_command(app: str, directory: Path, api_url: str, token: str, source_version: str | None) -> None:
    """Build DIRECTORY (as the Python buildpack does) and release it to APP: a new slug and release."""
    build = deploy_directory(api_url, token, app, directory, echo=click.echo, version=source_version)
    click.echo(f"Released {app}: build {build['id']}, release {build['release']['id']}")


emulator.add_command(run_command)
