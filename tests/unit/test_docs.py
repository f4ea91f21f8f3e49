"""The README is the contract with a newcomer: its first screen, its command table, and CI agree."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from harness.cli.app import LAZY_COMMANDS, cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def first_screen_commands() -> list[str]:
    """The shell commands in fenced blocks before the first `---` rule."""
    head = README.split("\n---\n", 1)[0]
    return [
        line for block in re.findall(r"```sh\n(.*?)```", head, re.S) for line in block.strip().splitlines()
    ]


def test_first_screen_has_exactly_the_two_commands() -> None:
    run, test = first_screen_commands()
    assert run.endswith("harness run") and "pip install" in run
    assert test.endswith("pytest") and "'.[dev]'" in test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert first_screen_commands()[1] in ci.splitlines()


def _all_command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand as argv, e.g. ("run",), ("emulator", "serve")."""
    paths: list[tuple[str, ...]] = []
    for name in sorted(LAZY_COMMANDS):
        paths.append((name,))
        command = cli.get_command(click.Context(cli), name)
        if isinstance(command, click.Group):
            paths += [(name, sub) for sub in sorted(command.commands)]
    return paths


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_every_command_has_a_readme_row(name: str) -> None:
    assert f"| `harness {name}" in README, f"README's command table has no row for `harness {name}`"


@pytest.mark.parametrize("argv", _all_command_paths(), ids=" ".join)
def test_every_command_and_subcommand_has_help(argv: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*argv, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {' '.join(argv)} ")
