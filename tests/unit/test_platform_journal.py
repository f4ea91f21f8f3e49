"""The journal on disk: atomic writes, reading back, the stale-journal refusal, manual commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError, StaleJournalError
from harness.platform.journal import Journal, JournalStore, default_state_dir
from harness.platform.models import Formation, ProcessFormation


def formation(**types: tuple[int, str]) -> Formation:
    return Formation.of(ProcessFormation(type=t, quantity=q, size=s) for t, (q, s) in types.items())


def journal(app: str = "shop-staging") -> Journal:
    return Journal(
        app=app,
        api_host="api.heroku.com",
        original=formation(web=(1, "Standard-1X"), worker=(2, "Standard-2X")),
        intended=formation(web=(4, "Standard-2X"), worker=(2, "Standard-2X")),
    )


def test_write_read_delete_round_trip(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    written = journal()
    path = store.write(written)
    assert path == tmp_path / "journals" / "shop-staging.json"
    assert store.read("shop-staging") == written
    assert store.apps() == ["shop-staging"]
    data = json.loads(path.read_text())
    assert data["original"]["processes"][0] == {"type": "web", "quantity": 1, "size": "Standard-1X"}
    assert data["pid"] > 0 and data["api_host"] == "api.heroku.com"
    store.delete("shop-staging")
    store.delete("shop-staging")  # absent is fine: restore is idempotent
    assert store.read("shop-staging") is None
    assert store.apps() == []


def test_write_leaves_no_temp_files(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    store.write(journal())
    store.write(journal())
    assert [p.name for p in (tmp_path / "journals").iterdir()] == ["shop-staging.json"]


def test_stale_journal_refuses_and_says_how_to_restore(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    store.ensure_absent("shop-staging")
    store.write(journal())
    with pytest.raises(StaleJournalError, match="harness restore --app shop-staging") as info:
        store.ensure_absent("shop-staging")
    assert info.value.exit_code == 2  # a refusal, like a guard


def test_restore_commands_cover_every_type() -> None:
    assert journal().restore_commands() == [
        "heroku ps:scale web=1 worker=2 -a shop-staging",
        "heroku ps:type web=standard-1x worker=standard-2x -a shop-staging",
    ]


def test_unreadable_journal_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    store = JournalStore(tmp_path)
    store.directory.mkdir(parents=True)
    store.path_for("shop-staging").write_text("{not json")
    with pytest.raises(ConfigError, match=r"shop-staging\.json"):
        store.read("shop-staging")


def test_app_names_cannot_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        JournalStore(tmp_path).path_for("../etc/passwd")


def test_default_state_dir_honours_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_state_dir() == Path(".harness")
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path))
    assert JournalStore().state_dir == tmp_path
