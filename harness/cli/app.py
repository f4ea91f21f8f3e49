"""The click group, the one error handler, and the option groups the commands share.

Commands live in one module per capability (`platform.py`, `load.py`,
`results.py`, `run.py`, `stress.py`; the `emulator` group lives in
`harness/emulator/cli.py`, since the emulator stands alone) and are listed in
`LAZY_COMMANDS` at the bottom of this file (add a line there for a new command). A command parses,
calls one library function, prints; `HarnessGroup` turns any `HarnessError`
into its message and exit code.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from harness import __version__
from harness.errors import HarnessError, exit_codes_help

__all__ = ["HarnessGroup", "app_option", "cli", "format_option", "scenarios_option"]

F = TypeVar("F", bound=Callable[..., Any])


class HarnessGroup(click.Group):
    """A click group whose commands load lazily and exit through one handler for `HarnessError`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module_name, attribute = LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{LAZY_COMMANDS[cmd_name]} is not a click command")
        if command is not None:
            _with_exit_codes(command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's whole first sentence, wrapped, never cut off with '...'."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=1000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HarnessError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)


def _with_exit_codes(command: click.Command) -> None:
    """Every command's --help ends with the one exit-code table (errors.EXIT_CODE_TABLE)."""
    if not command.epilog:
        command.epilog = exit_codes_help()
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_exit_codes(sub)


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


def promote_options(f: F) -> F:
    """`--promote` and `--promote-to APP`: the release gate after a test (see promotion_gate.py)."""
    f = click.option(
        "--promote-to",
        "promote_to",
        multiple=True,
        metavar="APP",
        help="Promote to these apps, not the next stage.",
    )(f)
    return click.option(
        "--promote",
        is_flag=True,
        help="Afterwards, promote the tested release through the app's pipeline if every SLO held and "
        "nothing regressed.",
    )(f)


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


@click.group(
    cls=HarnessGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_codes_help()
)
@click.version_option(__version__, prog_name="harness")
def cli() -> None:
    """Capacity tests for Heroku web apps: scale up a staging copy, load and stress it
    with Locust, find the breaking point, report, and restore the formation."""


# Command name → "module:attribute". Imported only when the command runs (or for --help), so that
# `harness restore` does not pay for pandas, matplotlib and Locust at start-up.
LAZY_COMMANDS: dict[str, str] = {
    "ab": "harness.cli.ab:ab_command",
    "compare": "harness.cli.compare:compare_command",
    "emulator": "harness.emulator.cli:emulator",
    "scale": "harness.cli.platform:scale_command",
    "restore": "harness.cli.platform:restore_command",
    "status": "harness.cli.platform:status_command",
    "validate": "harness.cli.load:validate_command",
    "load": "harness.cli.load:load_command",
    "worker": "harness.cli.load:worker_command",
    "history": "harness.cli.results:history",
    "report": "harness.cli.results:report",
    "run": "harness.cli.run:run_command",
    "stress": "harness.cli.stress:stress_command",
}
