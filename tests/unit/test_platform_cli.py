"""`harness scale/restore/status` refusals that happen before any API call (CliRunner, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.app import cli
from harness.platform.journal import Journal, JournalStore
from harness.platform.models import Formation, ProcessFormation


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HARNESS_STATE_DIR", str(tmp_path / "state"))
    return CliRunner()


def test_scale_rejects_delta_quantities(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["scale", "--app", "shop-staging", "web+1"])
    assert result.exit_code == 2
    assert "TYPE=QUANTITY" in result.output


def test_scale_refuses_a_protected_app(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["scale", "--app", "shop", "--protect", "shop", "web=2"])
    assert result.exit_code == 2
    assert "protected" in result.output


def test_scale_refuses_protected_apps_from_scenarios(runner: CliRunner, tmp_path: Path) -> None:
    scenarios = tmp_path / "s.yaml"
    scenarios.write_text(
        "target:\n  app: shop-staging\n  formations: [{quantity: 2}]\n  protected_apps: [shop]\n"
        "locustfiles: {main: {path: locustfiles/x.py}}\nexpected_peak: {users: 10}\n"
        "scenarios: [{name: peak, kind: load, level: {users: 10}, hold_s: 10}]\n"
    )
    result = runner.invoke(cli, ["scale", "--app", "shop", "--scenarios", str(scenarios), "web=2"])
    assert "'shop' is a protected app" in result.output
    assert result.exit_code == 2


def test_scale_refuses_while_a_journal_exists(runner: CliRunner, tmp_path: Path) -> None:
    web = Formation.of([ProcessFormation(type="web", quantity=1, size="Standard-1X")])
    big = Formation.of([ProcessFormation(type="web", quantity=4, size="Standard-2X")])
    JournalStore(tmp_path / "state").write(
        Journal(app="shop-staging", api_host="api.heroku.com", original=web, intended=big)
    )
    result = runner.invoke(cli, ["scale", "--app", "shop-staging", "web=2"])
    assert result.exit_code == 3
    assert "harness restore --app shop-staging" in result.output


def test_restore_with_no_journal_is_harmless(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["restore"])
    assert result.exit_code == 0
    assert "nothing to restore" in result.output


def test_status_without_a_token_says_how_to_set_one(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["status", "--app", "shop-staging"])
    assert result.exit_code == 3
    assert "HEROKU_API_KEY" in result.output
