"""The click group, the one error handler, and the option groups the commands share.

Commands live in one module per capability (`emulator.py`, `platform.py`,
`load.py`, `results.py`, `run.py`) and are registered at the bottom of this
file. A command parses, calls one library function, prints; `HarnessGroup`
turns any `HarnessError` into its message and exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from harness import __version__
from harness.errors import HarnessError

__all__ = ["HarnessGroup", "app_option", "cli", "format_option", "scenarios_option"]

F = TypeVar("F", bound=Callable[..., Any])


class HarnessGroup(click.Group):
    """A click group whose commands exit through one handler for `HarnessError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


def scenarios_option(f: F) -> F:
    """`--scenarios FILE`: the scenarios.yaml to use (default ./scenarios.yaml)."""
    return click.option(
        "--scenarios",
        "scenarios_path",
        type=click.Path(dir_okay=False),
        default="scenarios.yaml",
        show_default=True,
        help="Scenarios file.",
    )(f)


def app_option(f: F) -> F:
    """`--app APP`: the Heroku app (or emulator app) to act on."""
    return click.option("--app", "-a", "app", default=None, help="App name on Heroku (or the emulator).")(f)


def format_option(f: F) -> F:
    """`--format table|json|csv` for commands that print records."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["table", "json", "csv"]),
        default="table",
        show_default=True,
        help="Output format.",
    )(f)


@click.group(cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def cli() -> None:
    """Capacity tests for Heroku web apps: scale up a staging copy, load and stress it
    with Locust, find the breaking point, report, and restore the formation."""


def _register() -> None:
    """Attach every command module's commands to the group."""
    # Each capability adds its import and add_command line here.
    from harness.cli.emulator import emulator

    cli.add_command(emulator)
    from harness.cli.platform import restore_command, scale_command, status_command

    for command in (scale_command, restore_command, status_command):
        cli.add_command(command)

    from harness.cli.load import load_command, validate_command, worker_command

    for command in (validate_command, load_command, worker_command):
        cli.add_command(command)

    from harness.cli.stress import stress_command

    cli.add_command(stress_command)

    from harness.cli.results import history, report

    cli.add_command(history)
    cli.add_command(report)


_register()
