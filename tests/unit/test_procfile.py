"""Procfile parsing: Heroku's `<type>: <command>` lines, and errors that say where and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness.emulator.demo_app as demo_app
from harness.emulator.procfile import parse_procfile, read_procfile
from harness.errors import ConfigError


def test_types_in_order_with_comments_and_blank_lines() -> None:
    text = (
        "# processes\n\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n"
        "worker:python worker.py  \nrelease: ./migrate\n"
    )
    assert parse_procfile(text) == {
        "web": "gunicorn app:app --bind 0.0.0.0:$PORT",
        "worker": "python worker.py",
        "release": "./migrate",
    }


def test_command_keeps_its_own_colons() -> None:
    assert parse_procfile("web: python -m http.server $PORT --bind ::1\n") == {
        "web": "python -m http.server $PORT --bind ::1"
    }


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("web: ok\nthis is not a process line\n", 2, "<process type>: <command>"),
        ("web:\n", 1, "has no command"),
        ("web: a\nweb: b\n", 2, "defined twice"),
        ("bad type!: run\n", 1, "<process type>: <command>"),
    ],
)
def test_bad_lines_name_file_and_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_procfile(text, file="app/Procfile")
    assert raised.value.line == line
    assert str(raised.value).startswith(f"app/Procfile:{line}: ")
    assert words in str(raised.value)


def test_empty_procfile_is_an_error() -> None:
    with pytest.raises(ConfigError, match="declares no process type"):
        parse_procfile("# nothing here\n")


def test_missing_procfile_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no Procfile in") as raised:
        read_procfile(tmp_path)
    assert raised.value.file == str(tmp_path / "Procfile")


def test_demo_app_procfile() -> None:
    assert read_procfile(Path(demo_app.__file__).parent) == {"web": "python -m harness.emulator.demo_app"}
