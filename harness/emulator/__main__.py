"""`python -m harness.emulator serve ...`: the emulator without any gevent patch.

It runs only the `emulator` command group (`emulator/cli.py`), never
`harness.cli.app`, whose other commands import Locust (and `import locust`
patches the process with gevent). `harness emulator ...` comes here too (see
`harness.cli.main`).
`HarnessError` maps to its message and exit code the way `HarnessGroup` does.
"""

from __future__ import annotations

import sys

import click

from harness.emulator.cli import emulator
from harness.errors import HarnessError

__all__ = ["main", "run_emulator_cli"]


def run_emulator_cli(args: list[str] | None = None, *, prog_name: str = "python -m harness.emulator") -> None:
    """Run the `emulator` group on `args` (default: this process's arguments) and exit."""
    try:
        emulator.main(args=args, prog_name=prog_name)
    except HarnessError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def main() -> None:
    """Entry point of `python -m harness.emulator`."""
    run_emulator_cli()


if __name__ == "__main__":
    main()
