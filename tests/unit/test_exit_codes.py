"""One table of exit codes: the README's, every command's --help, and `errors.EXIT_CODE_TABLE` agree.

Each code is exercised for real in `tests/integration/test_exit_codes.py` (0, 1, 2, 3) and in
`tests/integration/test_platform_cli.py` (4: a restore that cannot finish; 130/143: a signal
during the scale-up wait).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli.app import LAZY_COMMANDS, cli
from harness.errors import EXIT_CODE_TABLE, exit_codes_help

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def command_paths() -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = [()]
    for name in sorted(LAZY_COMMANDS):
        paths.append((name,))
        command = cli.get_command(click.Context(cli), name)
        if isinstance(command, click.Group):
            paths += [(name, sub) for sub in sorted(command.commands)]
    return paths


def test_the_readme_table_is_the_table() -> None:
    section = README.split("## Exit codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\S+) \| (.+) \|$", section, re.M)
    assert rows[2:] == [(code, meaning) for code, meaning in EXIT_CODE_TABLE]  # the header and its rule


@pytest.mark.parametrize("argv", command_paths(), ids=lambda argv: " ".join(argv) or "harness")
def test_every_help_ends_with_the_table_and_takes_dash_h(argv: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*argv, "-h"])
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.rstrip().splitlines()[-len(EXIT_CODE_TABLE) :]]
    assert lines == [line.strip() for line in exit_codes_help().splitlines()[2:]]


@pytest.mark.parametrize("argv", [["emulator", "-h"], ["emulator", "serve", "-h"]])
def test_the_emulator_takes_dash_h_on_its_own_entry_path(argv: list[str]) -> None:
    # `harness emulator ...` runs the emulator's group without the gevent patch (harness.cli.main).
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from harness.cli import main; sys.argv[0] = 'harness'; main()",
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Exit codes:" in done.stdout and "130/143" in done.stdout


def test_the_top_level_help_cuts_no_description_short() -> None:
    commands = CliRunner().invoke(cli, ["-h"]).output.split("Commands:", 1)[1]
    assert "..." not in commands
