"""`python -m harness.emulator serve ...`: the emulator without the `harness` CLI's gevent patch.

It imports only the `emulator` command group (not `harness.cli.app`, whose
other commands may import Locust and patch the process), and maps
`HarnessError` to its message and exit code the way `HarnessGroup` does.
"""

from __future__ import annotations

import sys

import click

from harness.cli.emulator import emulator
from harness.errors import HarnessError


def main() -> None:
    """Run the `emulator` group as a program."""
    try:
        emulator.main(prog_name="python -m harness.emulator")
    except HarnessError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
