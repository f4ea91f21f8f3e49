"""After `kill -9` of `harness run` on its own emulator: the journal is explained and removed.

The emulator stops with its parent (and every dyno with it), so a journal that names a stopped
emulator means nothing is left scaled; `harness restore` and `harness status` say so and need no
Heroku token. The emulator's token file is mode 0600 and goes away with it.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.app import cli
from harness.platform.journal import Journal, JournalStore
from harness.platform.models import Formation, ProcessFormation
from harness.platform.recovery import (
    emulator_alive,
    emulator_note,
    explain_journal,
    forget_emulator,
    remember_emulator,
)

APP = "harness-demo"


def dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


@pytest.fixture
def store(tmp_path: Path) -> JournalStore:
    os.environ["HARNESS_STATE_DIR"] = str(tmp_path / "state")
    os.environ["NETRC"] = str(tmp_path / "no-netrc")  # no Heroku token anywhere
    return JournalStore(tmp_path / "state")


def killed_run_journal(store: JournalStore) -> Journal:
    ref = remember_emulator(
        store, APP, pid=dead_pid(), api_url="http://127.0.0.1:40111", token="s3cret-token"
    )
    journal = Journal(
        app=APP,
        api_host="127.0.0.1:40111",
        original=Formation.of([ProcessFormation(type="web", quantity=1, size="Standard-1X")]),
        intended=Formation.of([ProcessFormation(type="web", quantity=2, size="Standard-1X")]),
        emulator=ref,
    )
    store.write(journal)
    return journal


def test_the_token_file_is_private_and_forgotten(store: JournalStore) -> None:
    ref = remember_emulator(store, APP, pid=os.getpid(), api_url="http://127.0.0.1:1", token="t0k")
    assert stat.S_IMODE(os.stat(ref.token_file).st_mode) == 0o600
    assert Path(ref.token_file).read_text().strip() == "t0k"
    assert emulator_note(store, APP) == ref
    assert not emulator_alive(ref)  # this pid runs pytest, not the emulator
    forget_emulator(store, APP, ref)
    assert emulator_note(store, APP) is None and not Path(ref.token_file).exists()


def test_restore_explains_a_stopped_emulator_and_finishes(store: JournalStore) -> None:
    journal = killed_run_journal(store)
    assert "has stopped" in explain_journal(journal, store.path_for(APP))
    for args in (["restore"], ["restore", "--app", APP]):
        killed_run_journal(store)
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "local emulator it started" in result.output and "nothing is left scaled" in result.output
        assert "Journal removed." in result.output
        assert store.read(APP) is None and emulator_note(store, APP) is None
        assert "s3cret-token" not in result.output


def test_status_explains_the_journal_without_a_token(store: JournalStore) -> None:
    killed_run_journal(store)
    for args in (["status"], ["status", "--app", APP]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "against the local emulator it started" in result.output and "has stopped" in result.output
    assert store.read(APP) is not None  # status only looks


def test_status_without_app_or_journal_asks_for_the_app(store: JournalStore) -> None:
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 2 and "--app" in result.output
